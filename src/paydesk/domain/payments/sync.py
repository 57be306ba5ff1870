"""Ask WeChat about an order's open attempts and settle what it says (``?sync=true``, sweeps).

The mini program's ``wx.requestPayment`` success callback is not proof of payment; it only
makes the server ask. WeChat's answer goes through :func:`settle`, exactly like a
notification, so a query and a notification racing each other apply the payment once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from paydesk.db.models import Order, Payment
from paydesk.domain.errors import NotFound, UpstreamFailed
from paydesk.domain.payments import remote
from paydesk.domain.payments.settle import Outcome, settle

if TYPE_CHECKING:
    from paydesk.domain.context import Services


@dataclass(frozen=True)
class Synced:
    """The order after asking WeChat; ``error`` says why asking failed (the order is as it was)."""

    order: Order
    outcomes: tuple[Outcome, ...] = ()
    error: UpstreamFailed | None = None


async def sync_order(services: Services, order_id: str, *, cause: str = "query") -> Synced:
    """Query every attempt not yet known to be settled, newest first, and settle each answer."""
    async with services.db() as session:
        order = await session.get(Order, order_id)
        if order is None:
            raise NotFound("order_not_found", f"no order {order_id}")
        attempts = list(
            await session.scalars(
                select(Payment)
                .where(Payment.order_id == order_id, Payment.transaction_id.is_(None))
                .order_by(Payment.created_at.desc())
            )
        )
    outcomes: list[Outcome] = []
    for attempt in attempts:
        try:
            report = await remote.query(services, attempt)
        except UpstreamFailed as exc:
            return Synced(await _reload(services, order_id), tuple(outcomes), exc)
        if report is None:
            continue
        async with services.db.begin() as session:
            settled = await settle(
                session, report, cause=cause, now=services.clock.now(), ids=services.ids
            )
        outcomes.append(settled.outcome)
    return Synced(await _reload(services, order_id), tuple(outcomes))


async def _reload(services: Services, order_id: str) -> Order:
    async with services.db() as session:
        order = await session.get(Order, order_id)
        if order is None:  # orders are never deleted
            raise NotFound("order_not_found", f"no order {order_id}")
        return order
