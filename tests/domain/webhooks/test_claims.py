"""Claims under a lease, and what each recorded outcome does to the delivery."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, DeliveryAttempt
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks import (
    AttemptOutcome,
    ClaimedDelivery,
    RetryPolicy,
    claim_due,
    disable_endpoint,
    publish_pending,
    record_attempt,
    record_attempts,
    rotate_secret,
)
from paydesk.domain.webhooks.claims import MAX_ERROR_LENGTH
from tests.domain.webhooks.world import T0, URL, new_endpoint, new_event

pytestmark = pytest.mark.backends

LEASE = timedelta(seconds=60)
NO_JITTER = RetryPolicy(jitter=0.0)


async def _ready(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock, events: int = 1
) -> tuple[str, list[str]]:
    endpoint, _ = await new_endpoint(db, ids=ids, clock=clock)
    event_ids = [await new_event(db, ids=ids, clock=clock) for _ in range(events)]
    async with db.begin() as session:
        await publish_pending(session, ids=ids, now=clock.now())
    return endpoint, event_ids


async def _claim(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, limit: int = 10
) -> list[ClaimedDelivery]:
    async with db.begin() as session:
        return await claim_due(session, now=clock.now(), lease=LEASE, limit=limit)


async def _record(
    db: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    claimed: ClaimedDelivery,
    outcome: AttemptOutcome,
) -> DeliveryState | None:
    async with db.begin() as session:
        return await record_attempt(
            session, claimed, outcome, now=clock.now(), rng=random.Random(0), policy=NO_JITTER
        )


async def _delivery(db: async_sessionmaker[AsyncSession], delivery_id: str) -> Delivery:
    async with db() as session:
        delivery = await session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


async def test_claim_reads_everything_needed_to_send(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, [event] = await _ready(db, ids, clock)
    [claimed] = await _claim(db, clock)
    assert (claimed.event_id, claimed.endpoint_id, claimed.url) == (event, endpoint, URL)
    assert claimed.attempt == 1
    assert claimed.window_start == T0
    assert claimed.lease == T0 + LEASE
    body = json.loads(claimed.body)
    assert body["id"] == event
    assert (body["type"], body["created"]) == ("order.paid", int(T0.timestamp()))
    assert body["data"] == {"order_id": "ord_1", "amount": 100}
    assert claimed.body.startswith(b'{"id":')
    assert (await _delivery(db, claimed.delivery_id)).locked_until == T0 + LEASE


async def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_expires(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock)
    [first] = await _claim(db, clock)
    assert await _claim(db, clock.advance(59)) == []
    [again] = await _claim(db, clock.advance(1))  # the lease ran out: a crashed worker's claim
    assert (again.delivery_id, again.event_id, again.body) == (
        first.delivery_id,
        first.event_id,
        first.body,
    )
    assert again.attempt == 1  # the crashed try logged nothing
    assert again.lease == T0 + 2 * LEASE


async def test_only_due_pending_deliveries_of_enabled_endpoints_are_claimed(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, _ = await _ready(db, ids, clock, events=4)
    async with db() as session:
        a, b, c, d = (await session.scalars(select(Delivery.id).order_by(Delivery.id))).all()
    async with db.begin() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == a)
            .values(next_attempt_at=T0 + timedelta(seconds=1))
        )
        await session.execute(
            update(Delivery).where(Delivery.id == b).values(state=DeliveryState.DELIVERED)
        )
        await session.execute(
            update(Delivery).where(Delivery.id == c).values(state=DeliveryState.DEAD)
        )
    assert [x.delivery_id for x in await _claim(db, clock)] == [d]
    clock.advance(LEASE.total_seconds())
    async with db.begin() as session:
        await disable_endpoint(session, endpoint)
    assert await _claim(db, clock) == []


async def test_claims_come_most_overdue_first_within_the_limit(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock, events=3)
    async with db() as session:
        ordered = (await session.scalars(select(Delivery.id).order_by(Delivery.id))).all()
    async with db.begin() as session:
        for offset, delivery_id in zip((3, 1, 2), ordered, strict=True):
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(next_attempt_at=T0 - timedelta(seconds=offset))
            )
    claimed = await _claim(db, clock, limit=2)
    assert [c.delivery_id for c in claimed] == [ordered[0], ordered[2]]


async def test_a_rotated_secret_signs_the_next_try(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, _ = await _ready(db, ids, clock)
    [before] = await _claim(db, clock)
    async with db.begin() as session:
        new = await rotate_secret(session, endpoint, ids=ids)
    [after] = await _claim(db, clock.advance(LEASE.total_seconds()))
    assert after.secrets == (new, *before.secrets)


async def test_success_delivers(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock)
    [claimed] = await _claim(db, clock)
    outcome = AttemptOutcome(status_code=204, duration_ms=12, response_excerpt="")
    assert await _record(db, clock.advance(1), claimed, outcome) is DeliveryState.DELIVERED
    delivery = await _delivery(db, claimed.delivery_id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.DELIVERED,
        1,
        204,
    )
    assert delivery.delivered_at == T0 + timedelta(seconds=1)
    assert delivery.locked_until is None
    assert await _claim(db, clock.advance(3600)) == []


@pytest.mark.parametrize(
    "outcome",
    [
        AttemptOutcome(status_code=500, duration_ms=30, response_excerpt="oops"),
        AttemptOutcome(status_code=302, duration_ms=30, response_excerpt=""),
        AttemptOutcome(status_code=None, duration_ms=10_000, error="ReadTimeout"),
    ],
)
async def test_failure_schedules_the_next_try(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    clock: FixedClock,
    outcome: AttemptOutcome,
) -> None:
    await _ready(db, ids, clock)
    [claimed] = await _claim(db, clock)
    assert await _record(db, clock.advance(1), claimed, outcome) is DeliveryState.PENDING
    delivery = await _delivery(db, claimed.delivery_id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.PENDING,
        1,
        outcome.status_code,
    )
    assert delivery.next_attempt_at == T0 + timedelta(seconds=1 + 10)  # 10 s after try 1
    assert delivery.locked_until is None
    assert await _claim(db, clock.advance(9)) == []
    [retry] = await _claim(db, clock.advance(1))
    assert retry.attempt == 2


async def test_failure_at_the_deadline_is_dead(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock)
    [claimed] = await _claim(db, clock.advance(24 * 3600))
    outcome = AttemptOutcome(status_code=503, duration_ms=5)
    assert await _record(db, clock, claimed, outcome) is DeliveryState.DEAD
    delivery = await _delivery(db, claimed.delivery_id)
    assert (delivery.state, delivery.locked_until, delivery.delivered_at) == (
        DeliveryState.DEAD,
        None,
        None,
    )
    assert await _claim(db, clock.advance(3600)) == []


async def test_every_try_is_logged_with_capped_texts(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock)
    [claimed] = await _claim(db, clock)
    long = AttemptOutcome(
        status_code=None, duration_ms=7, error="e" * 2000, response_excerpt="r" * 3000
    )
    await _record(db, clock, claimed, long)
    [retry] = await _claim(db, clock.advance(10))
    await _record(db, clock, retry, AttemptOutcome(status_code=200, duration_ms=3))
    async with db() as session:
        attempts = (
            await session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))
        ).all()
    assert [(a.delivery_id, a.status_code, a.duration_ms) for a in attempts] == [
        (claimed.delivery_id, None, 7),
        (claimed.delivery_id, 200, 3),
    ]
    assert attempts[0].error == "e" * MAX_ERROR_LENGTH
    assert attempts[0].response_excerpt == "r" * 1024
    assert (attempts[1].error, attempts[1].response_excerpt) == (None, None)
    assert [a.attempted_at for a in attempts] == [T0, T0 + timedelta(seconds=10)]


async def test_a_lost_lease_logs_the_try_but_leaves_the_delivery_alone(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock)
    [slow] = await _claim(db, clock)
    [fast] = await _claim(db, clock.advance(LEASE.total_seconds()))  # slow's lease ran out
    assert await _record(db, clock, fast, AttemptOutcome(status_code=200, duration_ms=1)) is (
        DeliveryState.DELIVERED
    )
    late = AttemptOutcome(status_code=500, duration_ms=60_000)
    assert await _record(db, clock, slow, late) is None
    delivery = await _delivery(db, slow.delivery_id)
    assert (delivery.state, delivery.last_status) == (DeliveryState.DELIVERED, 200)
    async with db() as session:
        assert len((await session.scalars(select(DeliveryAttempt))).all()) == 2


async def test_a_batch_is_recorded_together_and_only_where_the_lease_holds(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _ready(db, ids, clock, events=3)
    kept, lost, failed = await _claim(db, clock)
    async with db.begin() as session:  # lost: reset by a resend and re-claimed meanwhile
        await session.execute(
            update(Delivery)
            .where(Delivery.id == lost.delivery_id)
            .values(locked_until=T0 + timedelta(hours=1))
        )
    async with db.begin() as session:
        states = await record_attempts(
            session,
            [
                (kept, AttemptOutcome(status_code=200, duration_ms=1)),
                (lost, AttemptOutcome(status_code=200, duration_ms=2)),
                (failed, AttemptOutcome(status_code=None, duration_ms=3, error="reset")),
            ],
            now=clock.now(),
            rng=random.Random(0),
            policy=NO_JITTER,
        )
        assert await record_attempts(session, [], now=clock.now(), rng=random.Random(0)) == []
    assert states == [DeliveryState.DELIVERED, None, DeliveryState.PENDING]
    assert (await _delivery(db, lost.delivery_id)).locked_until == T0 + timedelta(hours=1)
    assert (await _delivery(db, failed.delivery_id)).next_attempt_at == T0 + timedelta(seconds=10)
    async with db() as session:
        logged = (await session.scalars(select(DeliveryAttempt.duration_ms))).all()
    assert sorted(logged) == [1, 2, 3]
