"""Claiming orders for a sweep, so that any number of workers share the work without overlap.

A claim is one short transaction, committed before WeChat is asked anything::

    SELECT id … WHERE <due> ORDER BY … LIMIT n  [FOR UPDATE OF orders SKIP LOCKED]
    UPDATE orders SET next_check_at = :next, check_attempts = :seen + 1
     WHERE id = :id AND check_attempts = :seen AND <due>

On PostgreSQL ``SKIP LOCKED`` hands concurrent workers disjoint rows; on SQLite, which has one
writer at a time (every transaction is ``BEGIN IMMEDIATE``), the compare-and-set on
``check_attempts`` is what makes the claim. Pushing ``next_check_at`` forward is the claim
itself: a worker that dies after claiming leaves nothing behind — the order is simply due
again at its next check time. ``order_events`` are not written: a look is not a transition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from paydesk.db.enums import OrderState
from paydesk.db.models import Order
from paydesk.domain.sweeps.schedule import CLOSE_RETRY, FIRST_CHECK, next_check

__all__ = ["Claimed", "claim_expired", "claim_paying", "expired_now", "paying_due"]


@dataclass(frozen=True)
class Claimed:
    """An order this worker may now look at; ``checks`` counts this look."""

    order_id: str
    checks: int
    next_check_at: datetime


def _not_rechecked_before(now: datetime) -> ColumnElement[bool]:
    return or_(Order.next_check_at.is_(None), Order.next_check_at <= now)


def paying_due(now: datetime) -> ColumnElement[bool]:
    """PAYING, not expired, and due: its next check has come, or — never checked — it has
    been PAYING for :data:`FIRST_CHECK` (``updated_at`` is when it became PAYING)."""
    return and_(
        Order.state == OrderState.PAYING,
        Order.expires_at > now,
        or_(
            Order.next_check_at <= now,
            and_(Order.next_check_at.is_(None), Order.updated_at <= now - FIRST_CHECK),
        ),
    )


def expired_now(now: datetime) -> ColumnElement[bool]:
    """CREATED or PAYING past ``expires_at``, and not claimed by another close right now."""
    return and_(
        Order.state.in_((OrderState.CREATED, OrderState.PAYING)),
        Order.expires_at <= now,
        _not_rechecked_before(now),
    )


async def _claim(
    session: AsyncSession,
    *,
    due: ColumnElement[bool],
    order_by: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    limit: int,
    next_at: Callable[[int, datetime], datetime],
) -> list[Claimed]:
    query = select(Order.id, Order.check_attempts, Order.expires_at).where(due)
    query = query.order_by(order_by, Order.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Order)
    candidates = (await session.execute(query)).all()
    claimed: list[Claimed] = []
    for order_id, seen, expires_at in candidates:
        checks = seen + 1
        when = next_at(checks, expires_at)
        won = await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.check_attempts == seen, due)
            .values(next_check_at=when, check_attempts=checks)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(Claimed(order_id, checks, when))
    return claimed


async def claim_paying(session: AsyncSession, *, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` PAYING orders due for a query, most overdue first.

    Each is given its next check time by the backoff (:func:`~.schedule.next_check`).
    Commit right after.
    """
    return await _claim(
        session,
        due=paying_due(now),
        order_by=func.coalesce(Order.next_check_at, Order.updated_at),
        limit=limit,
        next_at=lambda checks, expires_at: next_check(now, checks, expires_at),
    )


async def claim_expired(session: AsyncSession, *, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` expired, unpaid orders for closing, longest expired first.

    A claim holds for :data:`~.schedule.CLOSE_RETRY`; a close that failed is tried again
    after it. Commit right after.
    """
    return await _claim(
        session,
        due=expired_now(now),
        order_by=Order.expires_at,
        limit=limit,
        next_at=lambda checks, expires_at: now + CLOSE_RETRY,
    )
