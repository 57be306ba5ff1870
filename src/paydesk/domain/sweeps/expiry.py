"""The expiry sweep: close orders that were not paid in time, at WeChat and here.

An order past ``expires_at`` in CREATED or PAYING is closed with
:func:`~paydesk.domain.orders.closing.close_order` (cause ``sweep.expire``): every open attempt
is closed at WeChat *first* — so a payer still looking at a pay sheet can no longer pay — and
only then the order here (CLOSED, ``order.closed`` to the merchant). If WeChat says an attempt
was paid meanwhile, the order is synchronised to PAID instead: a payment is never lost to an
expiry. WeChat stops taking payment at ``time_expire`` by itself; closing explicitly as well
costs one re-entrant call and covers an order whose ``time_expire`` WeChat never got (close API,
https://pay.weixin.qq.com/doc/v3/merchant/4012791901; PROTOCOL.md §1.7).

Outcomes per order: ``closed``, ``paid`` (found paid while closing), ``skipped`` (another
road moved it first), ``no_answer`` (WeChat failed; tried again after
:data:`~paydesk.domain.sweeps.schedule.CLOSE_RETRY`), ``error`` (logged).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from paydesk.db.enums import OrderState
from paydesk.domain.errors import Conflict, DomainError, UpstreamFailed
from paydesk.domain.orders.closing import close_order
from paydesk.domain.sweeps.claims import Claimed, claim_expired
from paydesk.domain.sweeps.rounds import SweepRound, gather_limited

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["EXPIRE_CAUSE", "close_expired_orders"]

#: The ``order_events.cause`` of a close by this sweep.
EXPIRE_CAUSE = "sweep.expire"

log = logging.getLogger("paydesk.sweeps")


async def close_expired_orders(services: Services, *, limit: int = 50) -> SweepRound:
    """Claim up to ``limit`` expired unpaid orders and close each at WeChat and here."""
    async with services.db.begin() as session:
        claimed = await claim_expired(session, now=services.clock.now(), limit=limit)
    return await gather_limited(claimed, lambda one: _close(services, one))


async def _close(services: Services, claimed: Claimed) -> str:
    try:
        order = await close_order(services, claimed.order_id, cause=EXPIRE_CAUSE)
    except UpstreamFailed as exc:
        log.info("expiry sweep: order %s not closed yet: %s", claimed.order_id, exc.message)
        return "no_answer"
    except Conflict as exc:
        # ``order_paid``: WeChat had the payment, now settled; ``order_not_closable``: paid
        # (or refunded) through another road between the claim and the close.
        return "paid" if exc.code == "order_paid" else "skipped"
    except (DomainError, KeyError) as exc:  # KeyError: the merchant left the config
        log.warning("expiry sweep: order %s: %s", claimed.order_id, exc)
        return "error"
    return "closed" if OrderState(order.state) == OrderState.CLOSED else "skipped"
