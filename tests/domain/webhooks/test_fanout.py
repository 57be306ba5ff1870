"""Fan-out: one delivery per enabled endpoint of the event's merchant, published once."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, OutboxEvent
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks import disable_endpoint, publish_pending, resend
from tests.domain.webhooks.world import OTHER_MCHID, T0, new_endpoint, new_event

pytestmark = pytest.mark.backends


async def _publish(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock, limit: int = 100
) -> int:
    async with db.begin() as session:
        return await publish_pending(session, ids=ids, now=clock.now(), limit=limit)


async def _pairs(db: async_sessionmaker[AsyncSession]) -> set[tuple[str, str]]:
    async with db() as session:
        rows = await session.execute(select(Delivery.event_id, Delivery.endpoint_id))
        return {(row.event_id, row.endpoint_id) for row in rows}


async def test_one_delivery_per_enabled_endpoint_of_the_merchant(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    first, _ = await new_endpoint(db, ids=ids, clock=clock)
    second, _ = await new_endpoint(db, ids=ids, clock=clock)
    disabled, _ = await new_endpoint(db, ids=ids, clock=clock)
    foreign, _ = await new_endpoint(db, ids=ids, clock=clock, mchid=OTHER_MCHID)
    async with db.begin() as session:
        await disable_endpoint(session, disabled)
    event = await new_event(db, ids=ids, clock=clock)
    clock.advance(2)
    assert await _publish(db, ids, clock) == 1
    assert await _pairs(db) == {(event, first), (event, second)}
    async with db() as session:
        deliveries = (await session.scalars(select(Delivery))).all()
        stored = await session.get(OutboxEvent, event)
    assert stored is not None
    assert stored.published_at == clock.now()
    for delivery in deliveries:
        assert delivery.id.startswith("dlv_")
        assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)
        assert delivery.next_attempt_at == delivery.created_at == clock.now()
        assert delivery.locked_until is None
    foreign_event = await new_event(db, ids=ids, clock=clock, mchid=OTHER_MCHID)
    assert await _publish(db, ids, clock) == 1
    assert (foreign_event, foreign) in await _pairs(db)
    assert len(await _pairs(db)) == 3


async def test_publishing_again_finds_nothing(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await new_endpoint(db, ids=ids, clock=clock)
    await new_event(db, ids=ids, clock=clock)
    assert await _publish(db, ids, clock) == 1
    assert await _publish(db, ids, clock) == 0
    assert len(await _pairs(db)) == 1


async def test_an_event_without_endpoints_is_published_with_no_delivery(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    event = await new_event(db, ids=ids, clock=clock)
    assert await _publish(db, ids, clock) == 1
    assert await _pairs(db) == set()
    async with db() as session:
        stored = await session.get(OutboxEvent, event)
    assert stored is not None
    assert stored.published_at == T0


async def test_an_existing_delivery_is_left_alone(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, _ = await new_endpoint(db, ids=ids, clock=clock)
    event = await new_event(db, ids=ids, clock=clock)
    async with db.begin() as session:  # a resend before the worker got to the event
        [early] = await resend(session, event, ids=ids, now=clock.now())
    assert await _publish(db, ids, clock.advance(5)) == 1
    async with db() as session:
        deliveries = (await session.scalars(select(Delivery))).all()
    assert [(d.id, d.endpoint_id, d.created_at) for d in deliveries] == [(early.id, endpoint, T0)]


async def test_oldest_events_first_in_batches(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await new_endpoint(db, ids=ids, clock=clock)
    events = [await new_event(db, ids=ids, clock=clock.advance(1)) for _ in range(5)]
    assert await _publish(db, ids, clock, limit=2) == 2
    assert {event for event, _ in await _pairs(db)} == set(events[:2])
    assert await _publish(db, ids, clock, limit=2) == 2
    assert await _publish(db, ids, clock, limit=2) == 1
    assert {event for event, _ in await _pairs(db)} == set(events)
