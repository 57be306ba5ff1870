"""Fixtures for the refund domain tests: a fixed clock, reproducible ids, paid orders as rows."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Order, OrderEvent, OutboxEvent, Payment
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
MCHID = "1900000001"
APPID = "wx5a0d5a0d00000001"

PaidOrder = Callable[..., Awaitable[Order]]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ids(clock: FixedClock) -> IdSource:
    rng = random.Random(5)
    return IdSource(clock, lambda n: rng.randbytes(n))


@pytest.fixture
def paid_order(db: async_sessionmaker[AsyncSession], ids: IdSource) -> PaidOrder:
    """Insert a PAID order (and its paid attempt): ``await paid_order(amount=100)``."""

    async def make(
        *,
        amount: int = 100,
        paid: int | None = None,
        state: OrderState = OrderState.PAID,
        mchid: str = MCHID,
    ) -> Order:
        order_id = ids.new("ord")
        number = ids.out_trade_no()
        is_paid = state not in (OrderState.CREATED, OrderState.PAYING, OrderState.CLOSED)
        transaction = f"42{number[2:]}"[:32] if is_paid else None
        async with db.begin() as session:
            session.add(
                Order(
                    id=order_id,
                    out_trade_no=number,
                    mchid=mchid,
                    appid=APPID,
                    merchant_order_id=order_id,
                    amount=amount,
                    description="test",
                    state=state,
                    api_version=ApiVersion.V3,
                    transaction_id=transaction,
                    paid_amount=(amount if paid is None else paid) if is_paid else None,
                    paid_at=T0 if is_paid else None,
                    expires_at=T0 + timedelta(hours=2),
                    created_at=T0,
                    updated_at=T0,
                )
            )
            await session.flush()
            session.add(
                Payment(
                    id=ids.new("pay"),
                    order_id=order_id,
                    out_trade_no=number,
                    channel=PaymentChannel.NATIVE,
                    api_version=ApiVersion.V3,
                    appid=APPID,
                    mchid=mchid,
                    params_hash="0" * 64,
                    transaction_id=transaction,
                    trade_state="SUCCESS" if is_paid else None,
                    expires_at=T0 + timedelta(hours=2),
                    created_at=T0,
                )
            )
        async with db() as session:
            found = await session.get(Order, order_id)
            assert found is not None
            return found

    return make


async def events_of(
    db: async_sessionmaker[AsyncSession], order_id: str
) -> list[tuple[str | None, str, str, str | None]]:
    """``(from_state, to_state, cause, refund_id)`` of every order_event, oldest first."""
    async with db() as session:
        rows = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return [(e.from_state, e.to_state, e.cause, e.refund_id) for e in rows]


async def outbox_of(db: async_sessionmaker[AsyncSession], order_id: str) -> list[str]:
    """The types of the order's outbox events, sorted (a fixed clock cannot order them)."""
    async with db() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.order_id == order_id))
        return sorted(e.type for e in rows)
