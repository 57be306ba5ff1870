"""Close an unpaid order: at WeChat first (every open attempt), then here.

If WeChat says an attempt was paid meanwhile, the order is synchronised instead and the close
is refused — a payment is never lost to a close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from paydesk.db.enums import OrderState
from paydesk.db.models import Order, Payment
from paydesk.domain.errors import Conflict
from paydesk.domain.orders.service import get_order
from paydesk.domain.orders.states import transition
from paydesk.domain.payments import remote
from paydesk.domain.payments.sync import sync_order

if TYPE_CHECKING:
    from paydesk.domain.context import Services

CLOSABLE = (OrderState.CREATED, OrderState.PAYING)


async def close_order(
    services: Services, order_id: str, *, mchid: str | None = None, cause: str
) -> Order:
    """Close ``order_id`` (idempotent: closing a closed order returns it)."""
    async with services.db() as session:
        order = await get_order(session, order_id, mchid=mchid)
        attempts = list(
            await session.scalars(
                select(Payment).where(Payment.order_id == order_id, Payment.closed_at.is_(None))
            )
        )
    state = OrderState(order.state)
    if state == OrderState.CLOSED:
        return order
    if state not in CLOSABLE:
        raise Conflict(
            "order_not_closable",
            f"order {order_id} is {state}; refund it instead",
            state=state.value,
        )
    for attempt in attempts:
        if await remote.close(services, attempt) == "paid":
            synced = await sync_order(services, order_id, cause="close.found_paid")
            raise Conflict(
                "order_paid",
                f"order {order_id} was paid before it could be closed",
                state=str(synced.order.state),
            )
    now = services.clock.now()
    async with services.db.begin() as session:
        await session.execute(
            update(Payment)
            .where(Payment.order_id == order_id, Payment.closed_at.is_(None))
            .values(closed_at=now)
        )
        moved = await transition(
            session,
            order_id=order_id,
            to=OrderState.CLOSED,
            cause=cause,
            now=now,
            ids=services.ids,
            values={"closed_at": now},
        )
        if moved is not None:
            return moved.order
    async with services.db() as session:
        return await get_order(session, order_id)
