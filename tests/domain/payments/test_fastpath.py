"""The pay path's prebuilt statements write exactly what the session way writes (the read and
the answer's UPDATE run on both databases; the first-attempt statement on PostgreSQL only),
and the first-attempt statement declines — writing nothing — whenever the order is no longer as
it was read, leaving the decision to the session way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select

from paydesk.db.engine import is_postgresql
from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Order, OrderEvent, Payment
from paydesk.domain.clock import FixedClock
from paydesk.domain.orders.closing import close_order
from paydesk.domain.payments import fastpath, prepay
from paydesk.domain.payments.prepay import Payer, start_payment
from tests.stack import MINI_APPID, Stack

pytestmark = pytest.mark.backends

PAYER = Payer(appid=MINI_APPID, openid="oPayerOpenid00000000000000000")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=654321))


@pytest.fixture
def postgresql_only(world: Stack) -> None:
    if not is_postgresql(world.services.engine):
        pytest.skip("the first-attempt statement is PostgreSQL's: SQLite has no WITH writes")


def as_dict(row: Any) -> dict[str, Any]:
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}


async def written(stack: Stack, order_id: str) -> dict[str, Any]:
    async with stack.services.db() as session:
        order = await session.get(Order, order_id)
        payments = (
            await session.scalars(
                select(Payment).where(Payment.order_id == order_id).order_by(Payment.created_at)
            )
        ).all()
        events = (
            await session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        ).all()
    return {
        "order": as_dict(order),
        "payments": [as_dict(p) for p in payments],
        "events": [as_dict(e) | {"id": 0} for e in events],
    }


def a_new_attempt(order: Order, payment_id: str, now: datetime) -> Payment:
    return Payment(
        id=payment_id,
        order_id=order.id,
        out_trade_no=order.out_trade_no,
        channel=PaymentChannel.MINIPROGRAM,
        api_version=ApiVersion.V3,
        appid=MINI_APPID,
        mchid=order.mchid,
        openid=PAYER.openid,
        params_hash="f" * 64,
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )


@pytest.mark.usefixtures("postgresql_only")
async def test_a_first_payment_writes_what_the_session_way_writes(
    world: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, general = await world.create_order(), await world.create_order()
    ids = iter(["pay_fast", "pay_general"])
    monkeypatch.setattr(world.services.ids, "new", lambda prefix: next(ids))

    quick = await start_payment(world.services, fast["id"], PaymentChannel.MINIPROGRAM, PAYER)
    monkeypatch.setattr(prepay, "postgresql_engine", lambda db: None)
    usual = await start_payment(world.services, general["id"], PaymentChannel.MINIPROGRAM, PAYER)

    text = json.dumps(await written(world, fast["id"]), default=str, sort_keys=True)
    for mine, theirs in (
        (fast["id"], general["id"]),
        (fast["out_trade_no"], general["out_trade_no"]),
        (fast["merchant_order_id"], general["merchant_order_id"]),
        ("pay_fast", "pay_general"),
        (quick.payment.prepay_id, usual.payment.prepay_id),
    ):
        text = text.replace(str(mine), str(theirs))
    assert text == json.dumps(await written(world, general["id"]), default=str, sort_keys=True)
    rows = await written(world, fast["id"])
    assert [e["cause"] for e in rows["events"]] == ["api.create", "pay.miniprogram"]
    assert (rows["order"]["state"], rows["order"]["version"]) == (OrderState.PAYING, 1)
    assert as_dict(quick.payment) == rows["payments"][0]  # returned as stored, prepay_id too
    assert inspect(quick.payment).detached


async def test_the_read_is_the_session_read(world: Stack) -> None:
    created = await world.create_order()
    await start_payment(world.services, created["id"], PaymentChannel.MINIPROGRAM, PAYER)
    other = Payer(appid=MINI_APPID, openid="oAnotherPayer000000000000000")
    await start_payment(world.services, created["id"], PaymentChannel.MINIPROGRAM, other)

    found = await fastpath.read_order_and_attempts(world.services, created["id"])

    assert found is not None
    order, attempts = found
    rows = await written(world, created["id"])
    assert as_dict(order) == rows["order"]
    assert [as_dict(a) for a in attempts] == rows["payments"]  # oldest first
    assert [a.closed_at is not None for a in attempts] == [True, False]
    assert all(inspect(o).detached for o in (order, *attempts))
    assert await fastpath.read_order_and_attempts(world.services, "ord_missing") is None


@pytest.mark.usefixtures("postgresql_only")
async def test_an_order_moved_since_it_was_read_is_declined_and_nothing_is_written(
    world: Stack,
) -> None:
    created = await world.create_order()
    found = await fastpath.read_order_and_attempts(world.services, created["id"])
    assert found is not None
    stale, _ = found
    winner = await start_payment(world.services, created["id"], PaymentChannel.MINIPROGRAM, PAYER)
    before = await written(world, created["id"])
    now = world.services.clock.now()

    declined = await fastpath.reserve_first_attempt(
        world.services,
        stale,
        a_new_attempt(stale, "pay_late", now),
        now=now,
        cause="pay.miniprogram",
        detail={},
    )

    assert declined is None
    assert await written(world, created["id"]) == before
    assert [p["id"] for p in before["payments"]] == [winner.payment.id]


@pytest.mark.usefixtures("postgresql_only")
async def test_an_order_no_longer_created_is_declined(world: Stack) -> None:
    created = await world.create_order()
    await close_order(world.services, created["id"], cause="api.close")
    found = await fastpath.read_order_and_attempts(world.services, created["id"])
    assert found is not None
    closed, _ = found
    # The version is the closed order's own: only the statement's state guard can refuse it.
    closed.state = OrderState.CREATED
    now = world.services.clock.now()

    declined = await fastpath.reserve_first_attempt(
        world.services, closed, a_new_attempt(closed, "pay_x", now), now=now, cause="c", detail={}
    )

    assert declined is None
    assert (await written(world, created["id"]))["payments"] == []


async def test_a_first_payment_that_lost_the_race_reuses_the_winners_attempt(
    world: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await world.create_order()
    stale = await fastpath.read_order_and_attempts(world.services, created["id"])
    winner = await start_payment(world.services, created["id"], PaymentChannel.MINIPROGRAM, PAYER)

    async def as_read_before(services: Any, order_id: str, mchid: Any) -> Any:
        return stale  # this request read the order before the winner wrote

    monkeypatch.setattr(prepay, "_order_and_attempts", as_read_before)
    loser = await start_payment(world.services, created["id"], PaymentChannel.MINIPROGRAM, PAYER)

    assert loser.payment.id == winner.payment.id
    rows = await written(world, created["id"])
    assert [e["cause"] for e in rows["events"]] == ["api.create", "pay.miniprogram"]
    assert len(rows["payments"]) == 1


async def test_storing_an_answer_for_no_attempt_is_none(world: Stack) -> None:
    stored = await fastpath.store_answer(
        world.services,
        "pay_missing",
        prepay_id="wx1",
        code_url=None,
        h5_url=None,
        expires_at=world.services.clock.now(),
    )
    assert stored is None
