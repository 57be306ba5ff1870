"""The order as the shopper sees it — always the server's word, never the browser's.

A ``WeixinJSBridge`` "ok", an H5 return or a page reload only make the server *look*: while
the order is PAYING, WeChat is asked (:func:`~paydesk.domain.payments.sync.sync_order`, which
settles like a notification). Pages that poll share one throttle per order, so a hundred open
QR pages ask WeChat no more often than one.

``phase`` is what a page shows::

    open      payable: CREATED, or PAYING and not past its expiry
    paid      PAID
    refunded  PARTIALLY_REFUNDED or REFUNDED
    closed    CLOSED
    expired   still unpaid after its expiry (the sweep closes it soon)

>>> phase_of("PAYING", expired=False), phase_of("PAYING", expired=True), phase_of("PAID", True)
('open', 'expired', 'paid')
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from paydesk.db.enums import OrderState
from paydesk.domain.orders.service import get_order
from paydesk.domain.payments.sync import sync_order

if TYPE_CHECKING:
    from paydesk.db.models import Order
    from paydesk.domain.context import Services

__all__ = [
    "FINAL_PHASES",
    "SYNC_EVERY_SECONDS",
    "CashierView",
    "Phase",
    "Sync",
    "look",
    "phase_of",
    "watch",
]

Phase = Literal["open", "paid", "refunded", "closed", "expired"]
#: Phases after which nothing more will happen on the page.
FINAL_PHASES: frozenset[str] = frozenset({"paid", "refunded", "closed", "expired"})
#: ``never``: the database only; ``throttled``: ask WeChat at most every
#: :data:`SYNC_EVERY_SECONDS` per order; ``always``: ask now (the result page).
Sync = Literal["never", "throttled", "always"]
#: The shortest gap between two WeChat queries for one order made by polling pages.
SYNC_EVERY_SECONDS = 3.0
_THROTTLE_KEY = "cashier:synced:"


def phase_of(state: str, expired: bool) -> Phase:
    """The page's phase for an order ``state`` (``expired``: past its ``expires_at``)."""
    if state == OrderState.PAID:
        return "paid"
    if state in (OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED):
        return "refunded"
    if state == OrderState.CLOSED:
        return "closed"
    return "expired" if expired else "open"


@dataclass(frozen=True)
class CashierView:
    """What the cashier pages show about one order (nothing secret: the link holder sees it)."""

    order_id: str
    mchid: str
    appid: str
    state: str
    phase: Phase
    amount: int
    description: str
    merchant_name: str
    out_trade_no: str
    expires_at: datetime

    @property
    def final(self) -> bool:
        """Whether nothing more will happen (paid, refunded, closed, expired)."""
        return self.phase in FINAL_PHASES

    def public(self) -> dict[str, Any]:
        """The JSON of ``/pay/{token}/status`` and of each live event.

        >>> from datetime import datetime, timezone
        >>> view = CashierView("ord_1", "19", "wx1", "PAID", "paid", 100, "d", "Shop", "PD1",
        ...                    datetime(2026, 1, 1, tzinfo=timezone.utc))
        >>> view.public()["paid"], view.public()["expires_at"]
        (True, '2026-01-01T00:00:00Z')
        """
        body = asdict(self)
        del body["mchid"], body["appid"]
        body["expires_at"] = self.expires_at.isoformat().replace("+00:00", "Z")
        body["paid"] = self.phase in ("paid", "refunded")
        body["final"] = self.final
        return body


def view_of(services: Services, order: Order) -> CashierView:
    """The view of a loaded order, now."""
    merchant = services.registry.merchant(order.mchid)
    expired = order.expires_at <= services.clock.now()
    state = OrderState(order.state)
    return CashierView(
        order_id=order.id,
        mchid=order.mchid,
        appid=order.appid,
        state=state.value,
        phase=phase_of(state, expired),
        amount=order.amount,
        description=order.description,
        merchant_name=merchant.name or merchant.mchid,
        out_trade_no=order.out_trade_no,
        expires_at=order.expires_at,
    )


async def _due(services: Services, order_id: str) -> bool:
    # Not atomic, on purpose: two pages racing may both ask; a query is harmless, only noise.
    values = services.cache.values
    if await values.get(_THROTTLE_KEY + order_id) is not None:
        return False
    await values.set(_THROTTLE_KEY + order_id, 1, ttl=SYNC_EVERY_SECONDS)
    return True


async def look(services: Services, order_id: str, *, sync: Sync = "throttled") -> CashierView:
    """The order's view, after asking WeChat if it is PAYING (as ``sync`` allows).

    A WeChat that cannot be asked leaves the view as the database has it: the page keeps
    waiting and asks again later.
    """
    async with services.db() as session:
        order = await get_order(session, order_id)
    if OrderState(order.state) != OrderState.PAYING or sync == "never":
        return view_of(services, order)
    if sync == "always" or await _due(services, order_id):
        order = (await sync_order(services, order_id, cause="cashier")).order
    return view_of(services, order)


async def watch(
    services: Services,
    order_id: str,
    *,
    poll_seconds: float = 1.0,
    max_seconds: float = 300.0,
) -> AsyncIterator[CashierView]:
    """The order's view at every poll, until it is final or ``max_seconds`` have passed.

    The first view comes at once. The database is read every ``poll_seconds`` (a
    notification lands there); WeChat is asked on the shared throttle. Consumers skip views
    equal to the last one they showed.
    """
    deadline = time.monotonic() + max_seconds
    while True:
        view = await look(services, order_id)
        yield view
        if view.final or time.monotonic() >= deadline:
            return
        await asyncio.sleep(poll_seconds)
