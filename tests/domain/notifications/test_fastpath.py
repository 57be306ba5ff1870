"""The one-statement way of a payment notification (PostgreSQL) writes exactly what the general
way writes, and declines — changing nothing — whatever is not a plain first success."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import inspect, select

from paydesk.db.engine import is_postgresql
from paydesk.db.enums import ApiVersion, OrderState
from paydesk.db.models import Notification, Order, OrderEvent, OutboxEvent, Payment
from paydesk.domain.notifications.apply import apply_payment
from paydesk.domain.notifications.fastpath import settle_paid_at_once, takes_fast_path
from paydesk.domain.notifications.records import Inbound
from paydesk.domain.orders.closing import close_order
from paydesk.domain.payments.settle import TradeReport
from tests.domain.notifications.world import OPENID, Paying, paying_order
from tests.stack import PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends

HEADERS = {"wechatpay-serial": "PUB_KEY_ID_0100000000000000000000000000", "content-type": "x"}


def report_for(paying: Paying, **changes: Any) -> TradeReport:
    fields: dict[str, Any] = {
        "mchid": paying.mchid,
        "appid": paying.appid,
        "out_trade_no": paying.out_trade_no,
        "trade_state": "SUCCESS",
        "transaction_id": "42" + paying.out_trade_no[-20:],
        "total": paying.amount,
        "payer_total": paying.amount - 1,  # a coupon: paid_amount must follow payer_total
        "openid": OPENID,
        "success_time": None,
    }
    return TradeReport(**{**fields, **changes})


def inbound(stack: Stack, body: bytes = b'{"id": "EV"}') -> Inbound:
    return Inbound(PUBLIC_KEY_MCHID, ApiVersion.V3, HEADERS, body, stack.services.clock.now())


def as_dict(row: Any) -> dict[str, Any]:
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}


async def written_for(stack: Stack, paying: Paying) -> dict[str, Any]:
    """Every row the notification wrote or changed for ``paying``, as plain values."""
    async with stack.services.db() as session:
        order = await session.get(Order, paying.order_id)
        payment = await session.scalar(
            select(Payment).where(Payment.out_trade_no == paying.out_trade_no)
        )
        events = (
            await session.scalars(
                select(OrderEvent).where(
                    OrderEvent.order_id == paying.order_id, OrderEvent.to_state == "PAID"
                )
            )
        ).all()
        outbox = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.order_id == paying.order_id)
            )
        ).all()
        stored = (
            await session.scalars(
                select(Notification).where(Notification.order_id == paying.order_id)
            )
        ).all()
    rows = {
        "order": as_dict(order),
        "payment": as_dict(payment),
        "events": [as_dict(e) for e in events],
        "outbox": [as_dict(o) for o in outbox],
        "notifications": [as_dict(n) for n in stored],
    }
    for kind in ("events", "notifications"):
        for row in rows[kind]:
            row.pop("id")  # sequence numbers
    return rows


def same_shape(rows: dict[str, Any], paying: Paying, other: Paying) -> str:
    """``rows`` as JSON with ``paying``'s own identifiers written as ``other``'s."""
    text = json.dumps(rows, default=str, sort_keys=True)
    mine = report_for(paying)
    theirs = report_for(other)
    for old, new in (
        (mine.transaction_id, theirs.transaction_id),
        (paying.order_id, other.order_id),
        (paying.out_trade_no, other.out_trade_no),
        ("evt_fast", "evt_general"),
    ):
        text = text.replace(str(old), str(new))
    return text


async def test_it_writes_what_the_general_way_writes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert takes_fast_path(stack.services) == is_postgresql(stack.services.engine)
    if not is_postgresql(stack.services.engine):
        return  # SQLite: the general way is the only way (no data-modifying WITH)
    fast, general = await paying_order(stack), await paying_order(stack)
    ids = iter(["evt_fast", "evt_general"])
    monkeypatch.setattr(stack.services.ids, "new", lambda prefix: next(ids))

    arrived = inbound(stack)  # both at the same instant: the timestamps must match too
    quick = await settle_paid_at_once(stack.services, arrived, report_for(fast), event_id="EV")
    monkeypatch.setattr(
        "paydesk.domain.notifications.apply.takes_fast_path", lambda services: False
    )
    usual = await apply_payment(stack.services, arrived, report_for(general), event_id="EV")

    assert quick is not None
    assert (quick.verdict, quick.status, quick.order_id) == ("applied", 204, fast.order_id)
    assert (usual.verdict, usual.status, usual.order_id) == ("applied", 204, general.order_id)
    quick_detail = quick.message.replace(fast.out_trade_no, general.out_trade_no)
    assert quick_detail.replace(report_for(fast).transaction_id or "", "T") == (
        usual.message.replace(report_for(general).transaction_id or "", "T")
    )
    fast_rows, general_rows = await written_for(stack, fast), await written_for(stack, general)
    # Orders differ only in what the merchant gave each one (created separately).
    for rows in (fast_rows, general_rows):
        for key in ("merchant_order_id", "created_at", "expires_at"):
            rows["order"].pop(key)
            for event in rows["outbox"]:
                event["payload"]["data"].pop(key)
        rows["payment"].pop("id")
        rows["payment"].pop("prepay_id")
        rows["payment"].pop("params_hash")  # covers the expiry, which differs
        rows["payment"].pop("created_at")
        rows["payment"].pop("expires_at")
    assert fast_rows["order"]["state"] == OrderState.PAID
    assert fast_rows["order"]["paid_amount"] == fast.amount - 1
    assert len(fast_rows["outbox"]) == len(fast_rows["events"]) == 1
    assert len(fast_rows["notifications"]) == 1
    assert same_shape(fast_rows, fast, general) == same_shape(general_rows, general, general)


async def scenario(stack: Stack, case: str) -> tuple[Paying, TradeReport]:
    paying = await paying_order(stack)
    report = report_for(paying)
    if case == "duplicate":
        assert await settle_paid_at_once(stack.services, inbound(stack), report, event_id="E0")
    elif case == "closed":
        await close_order(stack.services, paying.order_id, cause="test.expired")
    elif case == "amount":
        report = report_for(paying, total=paying.amount + 1)
    elif case == "app":
        report = report_for(paying, appid="wx0000000000000000")
    elif case == "merchant":
        report = report_for(paying, mchid="1900000009")
    elif case == "not_paid":
        report = report_for(paying, trade_state="NOTPAY")
    elif case == "unknown":
        report = report_for(paying, out_trade_no="T_NOBODY_KNOWS")
    return paying, report


@pytest.mark.parametrize(
    "case", ["duplicate", "closed", "amount", "app", "merchant", "not_paid", "unknown"]
)
async def test_it_declines_anything_but_a_plain_first_success_and_changes_nothing(
    stack: Stack, case: str
) -> None:
    if not is_postgresql(stack.services.engine):
        assert not takes_fast_path(stack.services)
        return
    paying, report = await scenario(stack, case)
    before = await written_for(stack, paying)

    assert await settle_paid_at_once(stack.services, inbound(stack), report, event_id="E1") is None

    assert await written_for(stack, paying) == before


async def test_a_lost_race_declines_and_changes_nothing(stack: Stack) -> None:
    if not is_postgresql(stack.services.engine):
        return  # (the general way's races: tests/domain/orders)
    paying = await paying_order(stack)
    before = await written_for(stack, paying)

    async with stack.services.db.begin() as session:  # another writer holds the order…
        moved = await session.get(Order, paying.order_id, with_for_update=True)
        assert moved is not None
        attempt = asyncio.create_task(
            settle_paid_at_once(stack.services, inbound(stack), report_for(paying), event_id="E")
        )
        await asyncio.sleep(0.3)  # …while the statement waits for the row
        assert not attempt.done()
        moved.version += 1  # and moves it: the compare-and-set must now match nothing

    assert await attempt is None
    after = await written_for(stack, paying)
    assert after["order"]["version"] == before["order"]["version"] + 1
    after["order"]["version"] -= 1
    assert after == before


async def test_racing_the_general_way_ends_in_one_payment_and_no_deadlock(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgresql(stack.services.engine):
        return  # one writer at a time on SQLite: nothing to race
    monkeypatch.setattr(
        "paydesk.domain.notifications.apply.takes_fast_path", lambda services: False
    )
    orders = [await paying_order(stack) for _ in range(20)]

    async def both_ways(paying: Paying) -> list[str]:
        report = report_for(paying)
        quick, usual = await asyncio.gather(
            settle_paid_at_once(stack.services, inbound(stack), report, event_id="EQ"),
            apply_payment(stack.services, inbound(stack), report, event_id="EU"),
        )
        return sorted(["applied" if quick else "declined", usual.verdict])

    outcomes = await asyncio.gather(*(both_ways(paying) for paying in orders))

    for paying, outcome in zip(orders, outcomes, strict=True):
        assert outcome in (["applied", "duplicate"], ["applied", "declined"]), outcome
        rows = await written_for(stack, paying)
        assert rows["order"]["state"] == OrderState.PAID
        assert len(rows["events"]) == len(rows["outbox"]) == 1
