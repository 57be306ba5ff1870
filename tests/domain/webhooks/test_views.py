"""What operators see: recent deliveries, newest first, and every logged try."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import DeliveryState
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks import (
    AttemptOutcome,
    attempts_of,
    claim_due,
    publish_pending,
    recent_deliveries,
    record_attempt,
)
from paydesk.domain.webhooks.claims import ClaimedDelivery
from tests.domain.webhooks.world import OTHER_MCHID, URL, new_endpoint, new_event

pytestmark = pytest.mark.backends


async def _publish(db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock) -> None:
    async with db.begin() as session:
        await publish_pending(session, ids=ids, now=clock.now())


async def test_recent_deliveries_newest_first_with_filters(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, _ = await new_endpoint(db, ids=ids, clock=clock)
    await new_endpoint(db, ids=ids, clock=clock, mchid=OTHER_MCHID, url="https://other.example/")
    paid = await new_event(db, ids=ids, clock=clock)
    await _publish(db, ids, clock)
    closed = await new_event(db, ids=ids, clock=clock.advance(1), type="order.closed")
    await _publish(db, ids, clock)
    foreign = await new_event(db, ids=ids, clock=clock.advance(1), mchid=OTHER_MCHID)
    await _publish(db, ids, clock)
    async with db.begin() as session:
        claimed: list[ClaimedDelivery] = await claim_due(
            session, now=clock.now(), lease=timedelta(seconds=60), limit=1
        )
        await record_attempt(
            session,
            claimed[0],
            AttemptOutcome(status_code=200, duration_ms=4),
            now=clock.now(),
            rng=random.Random(0),
        )
    async with db() as session:
        everything = await recent_deliveries(session)
        mine = await recent_deliveries(session, mchid="1900000001")
        delivered = await recent_deliveries(session, state=DeliveryState.DELIVERED)
        latest = await recent_deliveries(session, limit=1)
        attempts = await attempts_of(session, claimed[0].delivery_id)
    assert [d.event_id for d in everything] == [foreign, closed, paid]
    assert [(d.event_id, d.event_type, d.endpoint_id, d.url) for d in mine] == [
        (closed, "order.closed", endpoint, URL),
        (paid, "order.paid", endpoint, URL),
    ]
    assert [(d.event_id, d.state, d.attempts, d.last_status) for d in delivered] == [
        (paid, DeliveryState.DELIVERED, 1, 200)
    ]
    assert delivered[0].delivered_at == clock.now()
    assert [d.event_id for d in latest] == [foreign]
    assert [(a.status_code, a.duration_ms) for a in attempts] == [(200, 4)]
