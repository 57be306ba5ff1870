"""Claiming due deliveries under a lease, and recording how each try ended.

A worker claims a batch in one short transaction by setting ``locked_until = now + lease``,
commits, and only then sends — so no row lock is held across the network, and a worker killed
mid-request leaves nothing behind but a lease that expires, after which another worker sends
the same event (same ``id``) again::

    claim_due        PENDING, next_attempt_at <= now, lease free  ──►  locked_until = now + lease
    (send)           POST the event, outside any transaction
    record_attempts  one delivery_attempts row per try; 2xx → DELIVERED, else PENDING at the
                     next backoff time, or DEAD once the 24 h window is over

``record_attempts`` updates a delivery only if it still holds the lease it claimed (the
``locked_until`` value doubles as the claim's token): a worker whose lease ran out and was
re-claimed by another does not overwrite the newer outcome.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from paydesk.db.models.webhooks import RESPONSE_EXCERPT_LENGTH
from paydesk.domain.webhooks._sql import is_postgresql, skip_locked
from paydesk.domain.webhooks.backoff import DEFAULT_POLICY, GiveUp, RetryPolicy, next_attempt
from paydesk.domain.webhooks.payloads import encode_event

__all__ = [
    "MAX_ERROR_LENGTH",
    "AttemptOutcome",
    "ClaimedDelivery",
    "claim_due",
    "record_attempt",
    "record_attempts",
]

#: Longest transport error message kept per attempt.
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, kw_only=True)
class ClaimedDelivery:
    """Everything needed to send one delivery, read while claiming it.

    ``secrets`` are the endpoint's active secrets *now* (a retry after a rotation is signed
    with the new one too); ``body`` the exact bytes to sign and send.
    """

    delivery_id: str
    event_id: str
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    body: bytes
    attempt: int  #: the number of this try, 1 for the first
    window_start: datetime  #: when the retry window opened (fan-out or last resend)
    lease: datetime  #: the ``locked_until`` this claim set; proves the claim is still ours


@dataclass(frozen=True, kw_only=True)
class AttemptOutcome:
    """How one HTTP try ended: a status code, or an error when there was no response.

    >>> AttemptOutcome(status_code=204, duration_ms=12).succeeded
    True
    >>> AttemptOutcome(status_code=None, duration_ms=10000, error="ReadTimeout").succeeded
    False
    """

    status_code: int | None
    duration_ms: int
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def succeeded(self) -> bool:
        """A 2xx answer, the only proof of delivery (redirects are not followed)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Delivery.state == DeliveryState.PENDING,
        Delivery.next_attempt_at <= now,
        or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now),
    ]


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedDelivery]:
    """Claim up to ``limit`` due deliveries of enabled endpoints, most overdue first.

    Commit right after: the lease protects the claim from then on, not the transaction.
    """
    candidates = (
        select(Delivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(*_due(now), WebhookEndpoint.enabled)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    candidate_ids = list(
        (await session.scalars(skip_locked(session, candidates, of=Delivery))).all()
    )
    if not candidate_ids:
        return []
    until = now + lease
    # Two statements, not UPDATE … WHERE id IN (SELECT … SKIP LOCKED LIMIT n): PostgreSQL may
    # re-run such a sub-select and lock (and claim) more than n rows. The due conditions are
    # repeated on the UPDATE: on SQLite that conditional update is what makes the claim.
    claim = (
        update(Delivery)
        .where(Delivery.id.in_(candidate_ids), *_due(now))
        .values(locked_until=until)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    claimed_ids = list((await session.scalars(claim)).all())
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.event_id,
            Delivery.endpoint_id,
            Delivery.attempts,
            Delivery.created_at,
            OutboxEvent.payload,
            WebhookEndpoint.url,
            WebhookEndpoint.secrets,
        )
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(Delivery.id.in_(claimed_ids))
        .order_by(Delivery.next_attempt_at, Delivery.id)
    )
    return [
        ClaimedDelivery(
            delivery_id=row.id,
            event_id=row.event_id,
            endpoint_id=row.endpoint_id,
            url=row.url,
            secrets=tuple(row.secrets),
            body=encode_event(row.payload),
            attempt=row.attempts + 1,
            window_start=row.created_at,
            lease=until,
        )
        for row in rows
    ]


def _attempt_row(
    claimed: ClaimedDelivery, outcome: AttemptOutcome, now: datetime
) -> dict[str, Any]:
    return {
        "delivery_id": claimed.delivery_id,
        "attempted_at": now,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error[:MAX_ERROR_LENGTH] if outcome.error is not None else None,
        "response_excerpt": (
            outcome.response_excerpt[:RESPONSE_EXCERPT_LENGTH]
            if outcome.response_excerpt is not None
            else None
        ),
    }


def _next_state(
    claimed: ClaimedDelivery,
    outcome: AttemptOutcome,
    *,
    now: datetime,
    rng: random.Random,
    policy: RetryPolicy,
) -> dict[str, Any]:
    """The delivery's new column values after this try (every column, so rows batch up)."""
    values: dict[str, Any] = {
        "id": claimed.delivery_id,
        "state": DeliveryState.PENDING,
        "attempts": claimed.attempt,
        "last_status": outcome.status_code,
        "locked_until": None,
        "next_attempt_at": now,
        "delivered_at": None,
    }
    if outcome.succeeded:
        return values | {"state": DeliveryState.DELIVERED, "delivered_at": now}
    decision = next_attempt(
        attempt=claimed.attempt, window_start=claimed.window_start, now=now, rng=rng, policy=policy
    )
    if isinstance(decision, GiveUp):
        return values | {"state": DeliveryState.DEAD}
    return values | {"next_attempt_at": decision.when}


async def record_attempts(
    session: AsyncSession,
    results: Sequence[tuple[ClaimedDelivery, AttemptOutcome]],
    *,
    now: datetime,
    rng: random.Random,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> list[DeliveryState | None]:
    """Log a batch of tries and move each delivery on; returns their new states, in order.

    A ``None`` state means that delivery's lease had been lost (expired and re-claimed, or the
    delivery reset by a resend): its try is logged but the delivery is left to its new owner.
    Three statements for the whole batch, whatever its size.
    """
    if not results:
        return []
    await session.execute(insert(DeliveryAttempt), [_attempt_row(c, o, now) for c, o in results])
    still_ours = select(Delivery.id, Delivery.locked_until).where(
        Delivery.id.in_([claimed.delivery_id for claimed, _ in results]),
        Delivery.state == DeliveryState.PENDING,
    )
    if is_postgresql(session):
        still_ours = still_ours.with_for_update()
    leases = {row.id: row.locked_until for row in await session.execute(still_ours)}
    changes = [
        _next_state(claimed, outcome, now=now, rng=rng, policy=policy)
        if leases.get(claimed.delivery_id) == claimed.lease
        else None
        for claimed, outcome in results
    ]
    rows = [values for values in changes if values is not None]
    if rows:
        await session.execute(update(Delivery), rows)
    return [None if values is None else values["state"] for values in changes]


async def record_attempt(
    session: AsyncSession,
    claimed: ClaimedDelivery,
    outcome: AttemptOutcome,
    *,
    now: datetime,
    rng: random.Random,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> DeliveryState | None:
    """:func:`record_attempts` for one try::

    async with db.begin() as session:
        state = await record_attempt(session, claimed, outcome, now=clock.now(), rng=rng)
    """
    [state] = await record_attempts(session, [(claimed, outcome)], now=now, rng=rng, policy=policy)
    return state
