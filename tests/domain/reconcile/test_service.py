"""Reconciling a day against the sandbox's bill: a clean day agrees; each kind of difference is
found, recorded as an anomaly once, and a day whose bill is not ready is an error."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from paydesk import client
from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Anomaly, Order, OutboxEvent, Payment
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import NotFound
from paydesk.domain.payments import remote
from paydesk.domain.reconcile import Difference, reconcile
from paydesk.domain.refunds import request_refund
from paydesk.protocol.times import BEIJING
from tests.domain.sweeps.world import (
    Paying,
    drop_notifications,
    order_row,
    pay_at_wechat,
    paying_order,
)
from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


def bill_day(clock: FixedClock) -> date:
    return clock.now().astimezone(BEIJING).date()


async def paid(stack: Stack, amount: int) -> Paying:
    """An order paid at WeChat and here (its notification delivered)."""
    paying = await paying_order(stack, amount=amount)
    await pay_at_wechat(stack, paying)
    await stack.sandbox.pay.drain()
    assert (await order_row(stack, paying.order_id)).state == "PAID"
    return paying


async def refunded(stack: Stack, clock: FixedClock, order_id: str, amount: int) -> None:
    """A refund asked here; WeChat settles it 5 virtual seconds later (and notifies)."""
    await request_refund(stack.services, order_id, amount=amount)
    clock.advance(6)
    await stack.sandbox.pay.run_due()
    await stack.sandbox.pay.drain()


async def next_day(stack: Stack, clock: FixedClock) -> date:
    """Move to 11:00 the next (Beijing) day, when the bill of the day before exists."""
    day = bill_day(clock)
    clock.advance(25 * 3600)
    await stack.sandbox.pay.run_due()
    return day


async def unknown_payment_at_wechat(stack: Stack, amount: int) -> str:
    """A trade paid at WeChat under a number paydesk never made (another system's, say)."""
    now = stack.services.clock.now()
    stranger = Order(
        id="ord_stranger",
        out_trade_no="PDSTRANGER0000000000000001",
        mchid=PUBLIC_KEY_MCHID,
        amount=amount,
        description="not ours",
        attach=None,
        expires_at=now + timedelta(hours=1),
    )
    ask = remote.PrepayAsk(
        stranger,
        PaymentChannel.NATIVE,
        ApiVersion.V3,
        MINI_APPID,
        stranger.out_trade_no,
        None,
        None,
        "Wap",
    )
    answer = await remote.prepay(stack.services, ask)
    assert answer.code_url is not None
    await pay_at_wechat(stack, Paying("", stranger.out_trade_no, answer.code_url))
    return stranger.out_trade_no


async def payment_only_here(stack: Stack, amount: int) -> str:
    """An order paydesk believes paid (a forged row) that WeChat never saw."""
    order = await stack.create_order(amount=amount)
    now = stack.services.clock.now()
    number = order["out_trade_no"]
    async with stack.services.db.begin() as session:
        session.add(
            Payment(
                id=stack.services.ids.new("pay"),
                order_id=order["id"],
                out_trade_no=number,
                channel=PaymentChannel.NATIVE,
                api_version=ApiVersion.V3,
                appid=MINI_APPID,
                mchid=PUBLIC_KEY_MCHID,
                params_hash="0" * 64,
                trade_state="SUCCESS",
                transaction_id="4200000000000000000000FORGED",
                paid_at=now,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        await session.execute(
            update(Order).where(Order.id == order["id"]).values(state=OrderState.PAYING)
        )
    return number


async def test_a_day_where_everything_matches_agrees(world: Stack, clock: FixedClock) -> None:
    first = await paid(world, 100)
    await paid(world, 250)
    await refunded(world, clock, first.order_id, 30)
    day = await next_day(world, clock)

    result = await reconcile(world.services, day)

    assert (result.differences, result.errors, result.fen_difference) == ([], [], 0)
    by_merchant = {m.mchid: m for m in result.merchants}
    bill = by_merchant[PUBLIC_KEY_MCHID].bill
    assert bill is not None
    assert (len(bill.payments), len(bill.refunds)) == (2, 1)
    assert sorted(p.total for p in bill.payments) == [100, 250]
    other = by_merchant[CERTIFICATE_MCHID].bill
    assert other is not None
    assert other.rows == ()
    async with world.services.db() as session:
        assert (await session.scalars(select(Anomaly))).all() == []


async def test_every_kind_of_difference_is_found_and_recorded_once(
    world: Stack, clock: FixedClock
) -> None:
    tampered = await paid(world, 120)
    refund_lost = await paid(world, 80)
    stranger = await unknown_payment_at_wechat(world, 55)
    forged = await payment_only_here(world, 70)
    await drop_notifications(world)
    unnotified = await paying_order(world, amount=90)
    await pay_at_wechat(world, unnotified)
    await refunded(world, clock, refund_lost.order_id, 80)  # succeeds there, PROCESSING here
    async with world.services.db.begin() as session:
        await session.execute(update(Order).where(Order.id == tampered.order_id).values(amount=121))
    day = await next_day(world, clock)

    result = await reconcile(world.services, day, mchid=PUBLIC_KEY_MCHID)

    found = {(d.kind, d.item, d.reference): d for d in result.differences}
    assert set(found) == {
        ("amount_differs", "payment", tampered.out_trade_no),
        ("missing_here", "payment", stranger),
        ("missing_there", "payment", forged),
        ("state_differs", "payment", unnotified.out_trade_no),
        ("state_differs", "refund", next(iter(_refund_numbers(result.differences)))),
    }
    assert found["state_differs", "payment", unnotified.out_trade_no] == Difference(
        "state_differs", "payment", unnotified.out_trade_no, unnotified.order_id, 90, 90,
        "PAYING", "SUCCESS",
    )  # fmt: skip
    assert result.fen_difference == 1 + 55 + 70
    (merchant,) = result.merchants
    assert merchant.recorded == 5
    async with world.services.db() as session:
        kinds = sorted(
            await session.scalars(select(Anomaly.kind).where(Anomaly.kind != "unknown_order"))
        )
        announced = [
            event.payload["data"]["kind"]
            for event in await session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "anomaly.created")
            )
        ]
    # The stranger's notification was an ``unknown_order`` already; the bill adds the rest.
    assert kinds == [
        "reconcile_amount_differs",
        "reconcile_missing_here",
        "reconcile_missing_there",
        "reconcile_state_differs",
        "reconcile_state_differs",
    ]
    assert sorted(k for k in announced if k != "unknown_order") == kinds

    again = await reconcile(world.services, day, mchid=PUBLIC_KEY_MCHID)

    assert len(again.differences) == 5
    assert again.merchants[0].recorded == 0  # already open: not recorded twice


def _refund_numbers(differences: list[Difference]) -> list[str]:
    return [d.reference for d in differences if d.item == "refund"]


async def test_the_bill_of_today_is_not_ready_yet(world: Stack, clock: FixedClock) -> None:
    result = await reconcile(world.services, bill_day(clock), mchid=PUBLIC_KEY_MCHID)
    (merchant,) = result.merchants
    assert merchant.bill is None
    assert merchant.error is not None
    assert "NO_STATEMENT_EXIST" in merchant.error
    assert result.errors == [f"{PUBLIC_KEY_MCHID}: {merchant.error}"]


async def test_an_unknown_merchant_is_an_error_not_an_empty_day(
    world: Stack, clock: FixedClock
) -> None:
    with pytest.raises(NotFound):
        await reconcile(world.services, bill_day(clock), mchid="1234567890")


class WeChatThatFails:
    """Stands in for ``services.wechat``: every merchant's bill download ends as told."""

    def __init__(self, outcome: BaseException | bytes) -> None:
        self.outcome = outcome

    def pay_v3(self, mchid: str) -> WeChatThatFails:
        if isinstance(self.outcome, KeyError):
            raise self.outcome
        return self

    async def trade_bill(self, day: date) -> bytes:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (KeyError("1900000001"), "no APIv3 credentials are configured for this merchant"),
        (
            client.UpstreamUnavailable("系统繁忙", status=500, code="SYSTEM_ERROR"),
            "WeChat refused the bill: SYSTEM_ERROR: 系统繁忙",
        ),
        (client.TransportFailed("connection refused"), "the bill could not be downloaded"),
        (b"not a bill at all", "the trade bill is malformed: no header, data and summary"),
    ],
)
async def test_a_bill_that_cannot_be_had_is_an_error_for_that_merchant_only(
    world: Stack,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    outcome: BaseException | bytes,
    error: str,
) -> None:
    monkeypatch.setattr(world.services, "wechat", WeChatThatFails(outcome))

    result = await reconcile(world.services, bill_day(clock) - timedelta(days=1))

    assert [m.mchid for m in result.merchants] == [PUBLIC_KEY_MCHID, CERTIFICATE_MCHID]
    assert all(m.error is not None and m.error.startswith(error) for m in result.merchants)
    assert (result.differences, result.fen_difference) == ([], 0)
