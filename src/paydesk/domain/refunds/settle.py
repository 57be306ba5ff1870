"""Settle what WeChat says about a refund: the ONE place a refund changes state.

Every road — the answer to our refund request, a v3 ``REFUND.*`` or v2 ``req_info``
notification, a refund query by the retry sweep — reduces WeChat's answer to a
:class:`~paydesk.domain.refunds.reports.RefundReport` and calls :func:`settle_refund` inside
the caller's transaction::

    PENDING ──► PROCESSING ──► SUCCESS | CLOSED | ABNORMAL
       └─────────────────────►┘          ABNORMAL ──► PROCESSING | SUCCESS | CLOSED

* The order row is locked first (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
  ``BEGIN IMMEDIATE`` already serialises writers), so two refunds of one order settle one
  after the other and the sum of successes is always read whole.
* The refund moves by compare-and-set on its state, with an ``order_events`` row
  (``refund_id`` set, refund states) and, for SUCCESS, CLOSED and ABNORMAL, the
  ``refund.succeeded`` / ``refund.failed`` outbox event.
* SUCCESS moves the order PAID → PARTIALLY_REFUNDED, or → REFUNDED once the successful refunds
  add up to the paid amount (``transition()`` writes its event and ``order.refunded``).
* CLOSED gives the refund's reservation back (``orders.refunded_amount -= amount``): WeChat
  returned nothing, and says a closed refund must be asked again under a *new* number
  (https://pay.weixin.qq.com/doc/v3/merchant/4013071031). ABNORMAL keeps it: the money has
  left the merchant's account and waits in WeChat's refund account (see ``retry.py``).
* An automatic refund of an anomalous attempt (``payment_id`` set: paid after close, or a
  second payment) was never reserved and is not the order's money: it gives nothing back and
  never moves the order; its events and outbox rows are written all the same.
* A report that contradicts our records (another merchant, amount, trade number) or a final
  state (SUCCESS after CLOSED, or the reverse) is an anomaly; the refund is left as it is.
  A report that is merely late (PROCESSING after SUCCESS) is ``STALE`` and changes nothing.

>>> can_move(RefundState.ABNORMAL, RefundState.SUCCESS)
True
>>> can_move(RefundState.CLOSED, RefundState.SUCCESS)
False
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import OrderState, RefundState
from paydesk.db.models import Order, OrderEvent, Refund
from paydesk.domain.errors import Conflict
from paydesk.domain.ids import IdSource
from paydesk.domain.orders.states import transition
from paydesk.domain.outbox import add_event
from paydesk.domain.refunds.checks import mismatch, record
from paydesk.domain.refunds.reports import RefundReport
from paydesk.domain.refunds.views import refund_view

__all__ = ["MOVES", "RefundOutcome", "RefundSettled", "can_move", "settle_refund"]

MOVES: dict[RefundState, frozenset[RefundState]] = {
    RefundState.PENDING: frozenset(
        {RefundState.PROCESSING, RefundState.SUCCESS, RefundState.CLOSED, RefundState.ABNORMAL}
    ),
    RefundState.PROCESSING: frozenset(
        {RefundState.SUCCESS, RefundState.CLOSED, RefundState.ABNORMAL}
    ),
    # An abnormal refund handled by the merchant (platform, or apply-abnormal-refund) goes on.
    RefundState.ABNORMAL: frozenset(
        {RefundState.PROCESSING, RefundState.SUCCESS, RefundState.CLOSED}
    ),
    RefundState.SUCCESS: frozenset(),
    RefundState.CLOSED: frozenset(),
}
FINAL = frozenset({RefundState.SUCCESS, RefundState.CLOSED})
#: The merchant event each arrival announces.
EVENT_FOR: dict[RefundState, str] = {
    RefundState.SUCCESS: "refund.succeeded",
    RefundState.CLOSED: "refund.failed",
    RefundState.ABNORMAL: "refund.failed",
}


def can_move(source: RefundState, target: RefundState) -> bool:
    """Whether the refund machine has an arrow from ``source`` to ``target``."""
    return target in MOVES[source]


class RefundOutcome(StrEnum):
    """What :func:`settle_refund` did."""

    CHANGED = "changed"  #: the refund moved to the reported state
    DUPLICATE = "duplicate"  #: already in that state; nothing changed
    STALE = "stale"  #: an older state than ours (late or reordered news); nothing changed
    ANOMALY = "anomaly"  #: contradicts our records; recorded for a person, nothing changed
    UNKNOWN_REFUND = "unknown_refund"  #: no refund of ours has this number for this merchant


@dataclass(frozen=True)
class RefundSettled:
    """The outcome, the refund (when we know it) and the anomaly kind (when one was made).

    ``verdict`` and ``order_id`` are what the notification path stores with the delivery:

    >>> RefundSettled(RefundOutcome.UNKNOWN_REFUND, anomaly="unknown_refund").verdict
    'anomaly:unknown_refund'
    """

    outcome: RefundOutcome
    refund: Refund | None = None
    anomaly: str | None = None

    @property
    def verdict(self) -> str:
        """``applied``, ``duplicate``, ``stale`` or ``anomaly:<kind>`` (at most 32 characters)."""
        if self.anomaly is not None:
            return f"anomaly:{self.anomaly}"[:32]
        return "applied" if self.outcome == RefundOutcome.CHANGED else self.outcome.value

    @property
    def order_id(self) -> str | None:
        """The order of the refund, when the refund is ours."""
        return self.refund.order_id if self.refund is not None else None


async def settle_refund(
    session: AsyncSession, report: RefundReport, *, cause: str, now: datetime, ids: IdSource
) -> RefundSettled:
    """Apply ``report`` in the caller's transaction (see the module docstring)."""
    found = await session.scalar(
        select(Refund.order_id).where(Refund.out_refund_no == report.out_refund_no)
    )
    order = None
    if found is not None:
        order = await session.scalar(
            select(Order)
            .where(Order.id == found)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if order is None or order.mchid != report.mchid:
        await record(session, "unknown_refund", report, cause, now, ids)
        return RefundSettled(RefundOutcome.UNKNOWN_REFUND, anomaly="unknown_refund")
    # The order lock serialises every settle of this order's refunds: the compare-and-set in
    # _move can only lose to a writer that bypassed this function.
    refund = (
        await session.scalars(
            select(Refund)
            .where(Refund.out_refund_no == report.out_refund_no)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    problem = await mismatch(session, order, refund, report)
    if problem is not None:
        await record(session, "refund_mismatch", report, cause, now, ids, order, refund, problem)
        return RefundSettled(RefundOutcome.ANOMALY, refund, "refund_mismatch")
    source = RefundState(refund.state)
    if report.status not in RefundState.__members__:
        return RefundSettled(RefundOutcome.STALE, refund)  # nothing we could act on
    target = RefundState(report.status)
    if source == target:
        if refund.refund_id is None and report.refund_id is not None:
            refund.refund_id = report.refund_id
        return RefundSettled(RefundOutcome.DUPLICATE, refund)
    if not can_move(source, target):
        if source in FINAL and target in FINAL:
            detail = {"ours": source.value, "reported": target.value}
            await record(session, "refund_mismatch", report, cause, now, ids, order, refund, detail)
            return RefundSettled(RefundOutcome.ANOMALY, refund, "refund_mismatch")
        return RefundSettled(RefundOutcome.STALE, refund)
    await _move(session, refund, source, target, report, now)
    await _announce(session, order, refund, source, cause, now, ids)
    return RefundSettled(RefundOutcome.CHANGED, refund)


async def _move(
    session: AsyncSession,
    refund: Refund,
    source: RefundState,
    target: RefundState,
    report: RefundReport,
    now: datetime,
) -> None:
    values: dict[str, Any] = {"state": target, "updated_at": now}
    if report.refund_id is not None:
        values["refund_id"] = report.refund_id
    if target == RefundState.SUCCESS:
        values["succeeded_at"] = report.success_time or now
    if target in (RefundState.PROCESSING, RefundState.SUCCESS):
        values["last_error"] = None
    changed = await session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.state == source)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("refund_busy", f"refund {refund.id} changed underfoot; retry")
    await session.refresh(refund)


async def _announce(
    session: AsyncSession,
    order: Order,
    refund: Refund,
    source: RefundState,
    cause: str,
    now: datetime,
    ids: IdSource,
) -> None:
    """The refund's event and outbox row, the reservation given back, the order moved."""
    target = RefundState(refund.state)
    session.add(
        OrderEvent(
            order_id=order.id,
            refund_id=refund.id,
            from_state=source.value,
            to_state=target.value,
            cause=cause,
            detail={"out_refund_no": refund.out_refund_no, "amount": refund.amount},
            created_at=now,
        )
    )
    reserved = refund.payment_id is None  # automatic refunds of anomalies are not
    if target == RefundState.CLOSED and reserved:
        await session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(refunded_amount=Order.refunded_amount - refund.amount, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    event_type = EVENT_FOR.get(target)
    if event_type is not None:
        await add_event(
            session,
            ids=ids,
            type=event_type,
            mchid=order.mchid,
            order_id=order.id,
            refund_id=refund.id,
            data=refund_view(refund),
            now=now,
        )
    if target == RefundState.SUCCESS and reserved:
        await _move_order(session, order, refund, cause, now, ids)


async def _move_order(
    session: AsyncSession, order: Order, refund: Refund, cause: str, now: datetime, ids: IdSource
) -> None:
    succeeded = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order.id,
            Refund.state == RefundState.SUCCESS,
            Refund.payment_id.is_(None),
        )
    )
    paid = order.paid_amount if order.paid_amount is not None else order.amount
    target = OrderState.REFUNDED if int(succeeded or 0) >= paid else OrderState.PARTIALLY_REFUNDED
    await transition(
        session,
        order_id=order.id,
        to=target,
        cause=cause,
        now=now,
        ids=ids,
        refund_id=refund.id,
        detail={"out_refund_no": refund.out_refund_no, "refunded": int(succeeded or 0)},
    )
