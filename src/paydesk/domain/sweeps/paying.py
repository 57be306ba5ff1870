"""The PAYING sweep: ask WeChat about orders whose payment notification has not come.

A notification can be lost, late, or refused by a paydesk that was down; the mini program's
success callback only makes the *payer's* client ask. So every PAYING order is queried in the
background on a backoff (:mod:`~paydesk.domain.sweeps.schedule`) until it is paid or expires,
through :func:`~paydesk.domain.payments.sync.sync_order` — the same road as ``?sync=true``,
ending in ``settle()``, so a query racing a notification applies the payment once.

Outcomes per order: ``paid``, ``already_paid`` / ``closed`` (another road settled it after the
claim), ``not_paid`` (WeChat says NOTPAY, USERPAYING…), ``anomaly`` (recorded by ``settle``),
``no_answer`` (WeChat failed; the backoff tries again) and ``error`` (the order's merchant is
no longer configured, say — logged).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from paydesk.db.enums import OrderState
from paydesk.domain.errors import DomainError
from paydesk.domain.payments.settle import Outcome
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.sweeps.claims import Claimed, claim_paying
from paydesk.domain.sweeps.rounds import SweepRound, gather_limited

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["QUERY_CAUSE", "query_paying_orders"]

#: The ``order_events.cause`` of a payment found by this sweep.
QUERY_CAUSE = "sweep.query"

_PAID = (OrderState.PAID, OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED)

log = logging.getLogger("paydesk.sweeps")


async def query_paying_orders(services: Services, *, limit: int = 50) -> SweepRound:
    """Claim up to ``limit`` PAYING orders that are due, query each, settle the answers."""
    async with services.db.begin() as session:
        claimed = await claim_paying(session, now=services.clock.now(), limit=limit)
    return await gather_limited(claimed, lambda one: _query(services, one))


async def _query(services: Services, claimed: Claimed) -> str:
    try:
        synced = await sync_order(services, claimed.order_id, cause=QUERY_CAUSE)
    except (DomainError, KeyError) as exc:  # KeyError: the merchant left the config
        log.warning("PAYING sweep: order %s: %s", claimed.order_id, exc)
        return "error"
    if Outcome.PAID in synced.outcomes:
        return "paid"
    if synced.error is not None:
        return "no_answer"
    if Outcome.ANOMALY in synced.outcomes or Outcome.UNKNOWN_ORDER in synced.outcomes:
        return "anomaly"
    state = OrderState(synced.order.state)
    if state in _PAID:
        return "already_paid"  # a notification (or ?sync=true) got there after the claim
    return "closed" if state == OrderState.CLOSED else "not_paid"
