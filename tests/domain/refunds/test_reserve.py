"""reserve_refund: one conditional UPDATE, never more than paid, even fifty at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import OrderState, RefundState
from paydesk.db.models import Order, Refund
from paydesk.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.refunds.reserve import reserve_refund
from tests.domain.refunds.conftest import MCHID, T0, PaidOrder, events_of

pytestmark = pytest.mark.backends


async def _reserve(
    db: async_sessionmaker[AsyncSession], ids: IdSource, order_id: str, amount: Any, **fields: Any
) -> Refund:
    async with db.begin() as session:
        return await reserve_refund(
            session,
            order_id=order_id,
            amount=amount,
            reason=fields.get("reason"),
            out_refund_no=fields.get("out_refund_no"),
            mchid=fields.get("mchid"),
            cause="api.refund",
            now=T0,
            ids=ids,
        )


async def _refunded(db: async_sessionmaker[AsyncSession], order_id: str) -> int:
    async with db() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order.refunded_amount


async def test_a_reservation_inserts_a_pending_refund_with_its_event(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100)
    refund = await _reserve(db, ids, order.id, 30, reason="破损 damaged")
    assert (refund.state, refund.amount, refund.attempts) == (RefundState.PENDING, 30, 1)
    assert refund.out_refund_no == refund.id  # ours unless the merchant brings one
    assert refund.reason == "破损 damaged"
    assert await _refunded(db, order.id) == 30
    assert await events_of(db, order.id) == [(None, "PENDING", "api.refund", refund.id)]
    mine = await _reserve(db, ids, order.id, 5, out_refund_no="shop-R-1|a*b@c", mchid=MCHID)
    assert mine.out_refund_no == "shop-R-1|a*b@c"


async def test_more_than_refundable_is_refused_with_what_is_left(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100, paid=80)
    await _reserve(db, ids, order.id, 50)
    with pytest.raises(Conflict) as caught:
        await _reserve(db, ids, order.id, 31)
    assert caught.value.code == "refund_exceeds_paid"
    assert caught.value.details == {"refundable": 30, "state": "PAID"}
    assert await _refunded(db, order.id) == 50
    await _reserve(db, ids, order.id, 30)
    assert await _refunded(db, order.id) == 80


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (OrderState.CREATED, "order_not_paid"),
        (OrderState.PAYING, "order_not_paid"),
        (OrderState.CLOSED, "order_not_paid"),
        (OrderState.REFUNDED, "refund_exceeds_paid"),
    ],
)
async def test_orders_that_cannot_be_refunded(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    paid_order: PaidOrder,
    state: OrderState,
    code: str,
) -> None:
    order = await paid_order(state=state)
    with pytest.raises(Conflict) as caught:
        await _reserve(db, ids, order.id, 1)
    assert caught.value.code == code
    assert caught.value.details["state"] == state.value


async def test_other_merchants_orders_and_missing_ones_are_not_found(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order()
    with pytest.raises(NotFound):
        await _reserve(db, ids, order.id, 1, mchid="1900000002")
    with pytest.raises(NotFound):
        await _reserve(db, ids, "ord_missing", 1)
    assert await _refunded(db, order.id) == 0


@pytest.mark.parametrize(
    ("amount", "fields", "code"),
    [
        (0, {}, "invalid_amount"),
        (True, {}, "invalid_amount"),
        (1.0, {}, "invalid_amount"),
        (1, {"reason": "x" * 81}, "invalid_reason"),
        (1, {"reason": "🎂"}, "invalid_reason"),
        (1, {"out_refund_no": "has space"}, "invalid_out_refund_no"),
        (1, {"out_refund_no": "x" * 65}, "invalid_out_refund_no"),
    ],
)
async def test_bad_input_is_refused_before_anything_changes(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    paid_order: PaidOrder,
    amount: Any,
    fields: dict[str, Any],
    code: str,
) -> None:
    order = await paid_order()
    with pytest.raises(InvalidInput) as caught:
        await _reserve(db, ids, order.id, amount, **fields)
    assert caught.value.code == code
    assert await _refunded(db, order.id) == 0


async def test_a_merchants_refund_number_is_unique_and_a_clash_reserves_nothing(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100)
    await _reserve(db, ids, order.id, 10, out_refund_no="R-1")
    with pytest.raises(Conflict) as caught:
        await _reserve(db, ids, order.id, 10, out_refund_no="R-1")
    assert caught.value.code == "duplicate_out_refund_no"
    assert await _refunded(db, order.id) == 10


async def test_fifty_concurrent_reservations_of_one_fen_give_exactly_what_fits(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=30)

    async def one() -> str:
        try:
            await _reserve(db, ids, order.id, 1)
        except DomainError as exc:
            return exc.code
        return "reserved"

    answers = await asyncio.gather(*(one() for _ in range(50)))
    assert sorted(set(answers)) == ["refund_exceeds_paid", "reserved"]
    assert answers.count("reserved") == 30
    assert await _refunded(db, order.id) == 30
    async with db() as session:
        total = await session.scalar(
            select(func.sum(Refund.amount)).where(Refund.order_id == order.id)
        )
    assert total == 30
