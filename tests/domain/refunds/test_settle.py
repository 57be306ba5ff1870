"""settle_refund: the one place a refund changes state, with its events, outbox and order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel, RefundState
from paydesk.db.models import Anomaly, Order, OutboxEvent, Payment, Refund
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.refunds import RefundOutcome, RefundReport, RefundSettled, settle_refund
from paydesk.domain.refunds.reserve import reserve_refund
from tests.domain.refunds.conftest import MCHID, T0, PaidOrder, events_of, outbox_of

pytestmark = pytest.mark.backends


async def _reserve(
    db: async_sessionmaker[AsyncSession], ids: IdSource, order: Order, amount: int
) -> Refund:
    async with db.begin() as session:
        return await reserve_refund(
            session,
            order_id=order.id,
            amount=amount,
            reason=None,
            out_refund_no=None,
            mchid=None,
            cause="api.refund",
            now=T0,
            ids=ids,
        )


async def _settle(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    ours: Refund,
    status: str,
    **fields: Any,
) -> RefundSettled:
    report = RefundReport(
        mchid=fields.pop("mchid", MCHID),
        out_refund_no=fields.pop("out_refund_no", ours.out_refund_no),
        status=status,  # type: ignore[arg-type]
        refund_id=fields.pop("refund_id", "50000000001"),
        **fields,
    )
    async with db.begin() as session:
        return await settle_refund(session, report, cause="test", now=T0, ids=ids)


async def _order(db: async_sessionmaker[AsyncSession], order_id: str) -> Order:
    async with db() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def test_partial_then_full_refund_moves_the_order_and_announces_each_step(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100)
    first = await _reserve(db, ids, order, 40)
    settled = await _settle(db, ids, first, "PROCESSING")
    assert (settled.outcome, settled.verdict, settled.order_id) == (
        RefundOutcome.CHANGED,
        "applied",
        order.id,
    )
    assert settled.refund is not None
    assert settled.refund.refund_id == "50000000001"
    settled = await _settle(db, ids, first, "SUCCESS", refund=40, total=100)
    assert settled.outcome == RefundOutcome.CHANGED
    assert settled.refund is not None
    assert settled.refund.succeeded_at == T0
    assert (await _order(db, order.id)).state == OrderState.PARTIALLY_REFUNDED

    second = await _reserve(db, ids, order, 60)
    await _settle(db, ids, second, "SUCCESS", refund_id="50000000002")
    done = await _order(db, order.id)
    assert (done.state, done.refunded_amount) == (OrderState.REFUNDED, 100)
    assert await events_of(db, order.id) == [
        (None, "PENDING", "api.refund", first.id),
        ("PENDING", "PROCESSING", "test", first.id),
        ("PROCESSING", "SUCCESS", "test", first.id),
        ("PAID", "PARTIALLY_REFUNDED", "test", first.id),
        (None, "PENDING", "api.refund", second.id),
        ("PENDING", "SUCCESS", "test", second.id),
        ("PARTIALLY_REFUNDED", "REFUNDED", "test", second.id),
    ]
    assert await outbox_of(db, order.id) == [
        "order.refunded",
        "refund.succeeded",
        "refund.succeeded",
    ]


async def test_repeats_and_late_news_change_nothing(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order()
    refund = await _reserve(db, ids, order, 10)
    assert (await _settle(db, ids, refund, "PENDING")).outcome == RefundOutcome.DUPLICATE
    await _settle(db, ids, refund, "SUCCESS")
    before = await events_of(db, order.id)
    again = await _settle(db, ids, refund, "SUCCESS")
    late = await _settle(db, ids, refund, "PROCESSING")
    odd = await _settle(db, ids, refund, "REFUNDING")
    assert (again.outcome, late.outcome, odd.outcome) == (
        RefundOutcome.DUPLICATE,
        RefundOutcome.STALE,
        RefundOutcome.STALE,
    )
    assert (again.verdict, late.verdict) == ("duplicate", "stale")
    assert await events_of(db, order.id) == before
    assert await outbox_of(db, order.id) == ["refund.succeeded"]


async def test_a_duplicate_fills_in_wechats_refund_id(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order()
    refund = await _reserve(db, ids, order, 10)
    await _settle(db, ids, refund, "PROCESSING", refund_id=None)
    await _settle(db, ids, refund, "PROCESSING", refund_id="50000000009")
    async with db() as session:
        stored = await session.get(Refund, refund.id)
        assert stored is not None
        assert stored.refund_id == "50000000009"


async def test_closed_gives_the_reservation_back_and_a_later_success_is_an_anomaly(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100)
    refund = await _reserve(db, ids, order, 70)
    assert (await _order(db, order.id)).refunded_amount == 70
    await _settle(db, ids, refund, "PROCESSING")
    closed = await _settle(db, ids, refund, "CLOSED")
    assert closed.outcome == RefundOutcome.CHANGED
    after = await _order(db, order.id)
    assert (after.state, after.refunded_amount) == (OrderState.PAID, 0)
    contradiction = await _settle(db, ids, refund, "SUCCESS")
    assert (contradiction.outcome, contradiction.verdict) == (
        RefundOutcome.ANOMALY,
        "anomaly:refund_mismatch",
    )
    assert (await _order(db, order.id)).refunded_amount == 0
    assert await outbox_of(db, order.id) == ["anomaly.created", "refund.failed"]


async def test_abnormal_keeps_the_reservation_until_it_is_resolved(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=50)
    refund = await _reserve(db, ids, order, 50)
    abnormal = await _settle(db, ids, refund, "ABNORMAL")
    assert abnormal.refund is not None
    assert abnormal.refund.state == RefundState.ABNORMAL
    assert (await _order(db, order.id)).refunded_amount == 50
    await _settle(db, ids, refund, "SUCCESS")
    done = await _order(db, order.id)
    assert (done.state, done.refunded_amount) == (OrderState.REFUNDED, 50)
    assert await outbox_of(db, order.id) == [
        "order.refunded",
        "refund.failed",
        "refund.succeeded",
    ]
    async with db() as session:
        payloads = list(
            await session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.type == "refund.failed")
            )
        )
    assert payloads[0]["data"]["state"] == "ABNORMAL"
    assert payloads[0]["data"]["id"] == refund.id


async def test_coupons_make_the_paid_amount_the_ceiling(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100, paid=90)
    refund = await _reserve(db, ids, order, 90)
    await _settle(db, ids, refund, "SUCCESS")
    assert (await _order(db, order.id)).state == OrderState.REFUNDED


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"refund": 11}, "refund"),
        ({"total": 99}, "total"),
        ({"out_trade_no": "PD_SOMEONE_ELSE"}, "out_trade_no"),
    ],
)
async def test_reports_that_contradict_our_records_are_anomalies(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    paid_order: PaidOrder,
    fields: dict[str, Any],
    field: str,
) -> None:
    order = await paid_order(amount=100)
    refund = await _reserve(db, ids, order, 10)
    settled = await _settle(db, ids, refund, "SUCCESS", **fields)
    assert (settled.outcome, settled.anomaly) == (RefundOutcome.ANOMALY, "refund_mismatch")
    async with db() as session:
        anomaly = await session.scalar(select(Anomaly).where(Anomaly.refund_id == refund.id))
        stored = await session.get(Refund, refund.id)
    assert anomaly is not None
    assert anomaly.detail["field"] == field
    assert stored is not None
    assert stored.state == RefundState.PENDING
    assert (await _order(db, order.id)).state == OrderState.PAID


async def test_a_matching_trade_number_is_accepted(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order()
    refund = await _reserve(db, ids, order, 10)
    settled = await _settle(db, ids, refund, "PROCESSING", out_trade_no=order.out_trade_no)
    assert settled.outcome == RefundOutcome.CHANGED


async def test_unknown_numbers_and_other_merchants_refunds_are_anomalies(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder, clock: FixedClock
) -> None:
    order = await paid_order()
    refund = await _reserve(db, ids, order, 10)
    unknown = await _settle(db, ids, refund, "SUCCESS", out_refund_no="NOT_OURS")
    foreign = await _settle(db, ids, refund, "SUCCESS", mchid="1900000002")
    for settled in (unknown, foreign):
        assert settled == RefundSettled(RefundOutcome.UNKNOWN_REFUND, anomaly="unknown_refund")
        assert (settled.verdict, settled.order_id) == ("anomaly:unknown_refund", None)
    async with db() as session:
        kinds = list(await session.scalars(select(Anomaly.mchid).order_by(Anomaly.mchid)))
        stored = await session.get(Refund, refund.id)
    assert kinds == [MCHID, "1900000002"]
    assert stored is not None
    assert stored.state == RefundState.PENDING


async def _automatic_refund(
    db: async_sessionmaker[AsyncSession], ids: IdSource, order: Order
) -> tuple[Refund, str]:
    """A second paid attempt of ``order`` and its automatic refund (never reserved)."""
    async with db.begin() as session:
        second = Payment(
            id=ids.new("pay"),
            order_id=order.id,
            out_trade_no=f"{order.out_trade_no[:30]}-2",
            channel=PaymentChannel.NATIVE,
            api_version=ApiVersion.V3,
            appid=order.appid,
            mchid=order.mchid,
            params_hash="1" * 64,
            transaction_id="4299999999999999",
            trade_state="SUCCESS",
            expires_at=T0,
            created_at=T0,
        )
        session.add(second)
        await session.flush()
        refund = Refund(
            id=ids.new("rfd"),
            order_id=order.id,
            payment_id=second.id,
            out_refund_no=f"auto-{second.out_trade_no}",
            amount=order.amount,
            state=RefundState.PENDING,
            attempts=1,
            created_at=T0,
            updated_at=T0,
        )
        session.add(refund)
    return refund, second.out_trade_no


@pytest.mark.parametrize("status", ["SUCCESS", "CLOSED"])
async def test_an_automatic_refund_never_touches_the_orders_money_or_state(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder, status: str
) -> None:
    order = await paid_order(amount=100)
    mine = await _reserve(db, ids, order, 30)
    automatic, number = await _automatic_refund(db, ids, order)
    settled = await _settle(db, ids, automatic, status, refund=100, out_trade_no=number)
    assert settled.outcome == RefundOutcome.CHANGED
    after = await _order(db, order.id)
    assert (after.state, after.refunded_amount) == (OrderState.PAID, 30)
    expected = "refund.succeeded" if status == "SUCCESS" else "refund.failed"
    assert await outbox_of(db, order.id) == [expected]
    await _settle(db, ids, mine, "SUCCESS")  # the order's own refund still counts alone
    after = await _order(db, order.id)
    assert (after.state, after.refunded_amount) == (OrderState.PARTIALLY_REFUNDED, 30)
