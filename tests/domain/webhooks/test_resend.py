"""Resend by hand: an event to every enabled endpoint, or one delivery; same event id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Conflict, NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks import disable_endpoint, publish_pending, resend
from tests.domain.webhooks.world import OTHER_MCHID, T0, new_endpoint, new_event

pytestmark = pytest.mark.backends

LATER = T0 + timedelta(days=3)


async def _published(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> tuple[str, str]:
    endpoint, _ = await new_endpoint(db, ids=ids, clock=clock)
    event = await new_event(db, ids=ids, clock=clock)
    async with db.begin() as session:
        await publish_pending(session, ids=ids, now=clock.now())
    return endpoint, event


async def _set_state(
    db: async_sessionmaker[AsyncSession], state: DeliveryState, **values: object
) -> None:
    async with db.begin() as session:
        await session.execute(update(Delivery).values(state=state, **values))


async def _resend(
    db: async_sessionmaker[AsyncSession], ids: IdSource, target: str
) -> list[Delivery]:
    async with db.begin() as session:
        return await resend(session, target, ids=ids, now=LATER)


@pytest.mark.parametrize(
    ("state", "extra"),
    [
        (DeliveryState.DEAD, {}),
        (DeliveryState.DELIVERED, {"delivered_at": T0 + timedelta(seconds=1)}),
    ],
)
async def test_resending_an_event_resets_finished_deliveries(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    clock: FixedClock,
    state: DeliveryState,
    extra: dict[str, object],
) -> None:
    endpoint, event = await _published(db, ids, clock)
    await _set_state(db, state, attempts=31, last_status=500, **extra)
    [delivery] = await _resend(db, ids, event)
    assert (delivery.event_id, delivery.endpoint_id) == (event, endpoint)
    assert (delivery.state, delivery.attempts, delivery.delivered_at) == (
        DeliveryState.PENDING,
        0,
        None,
    )
    assert delivery.next_attempt_at == delivery.created_at == LATER  # a new 24 h window
    assert delivery.last_status == 500  # history is kept


async def test_resending_a_pending_delivery_only_makes_it_due(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    _, event = await _published(db, ids, clock)
    lease = LATER + timedelta(seconds=30)
    await _set_state(
        db, DeliveryState.PENDING, attempts=3, next_attempt_at=LATER + timedelta(hours=1),
        locked_until=lease,
    )  # fmt: skip
    [delivery] = await _resend(db, ids, event)
    assert (delivery.attempts, delivery.created_at, delivery.next_attempt_at) == (3, T0, LATER)
    assert delivery.locked_until == lease  # a worker sending it right now keeps its claim


async def test_resending_an_event_reaches_endpoints_added_since(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    old, event = await _published(db, ids, clock)
    new, _ = await new_endpoint(db, ids=ids, clock=clock.advance(60))
    disabled, _ = await new_endpoint(db, ids=ids, clock=clock)
    await new_endpoint(db, ids=ids, clock=clock, mchid=OTHER_MCHID)
    async with db.begin() as session:
        await disable_endpoint(session, disabled)
    deliveries = await _resend(db, ids, event)
    assert [d.endpoint_id for d in deliveries] == [old, new]
    assert all(d.state is DeliveryState.PENDING and d.event_id == event for d in deliveries)
    async with db() as session:
        assert len((await session.scalars(select(Delivery))).all()) == 2


async def test_resending_an_unpublished_event_creates_its_deliveries(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, _ = await new_endpoint(db, ids=ids, clock=clock)
    event = await new_event(db, ids=ids, clock=clock)
    [delivery] = await _resend(db, ids, event)
    assert (delivery.endpoint_id, delivery.created_at, delivery.attempts) == (endpoint, LATER, 0)


async def test_resending_one_delivery(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    await _published(db, ids, clock)
    await _set_state(db, DeliveryState.DEAD, attempts=36)
    async with db() as session:
        delivery_id = (await session.scalars(select(Delivery.id))).one()
    [delivery] = await _resend(db, ids, delivery_id)
    assert (delivery.id, delivery.state, delivery.next_attempt_at) == (
        delivery_id,
        DeliveryState.PENDING,
        LATER,
    )


async def test_resending_to_a_disabled_endpoint_is_a_conflict(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint, event = await _published(db, ids, clock)
    await _set_state(db, DeliveryState.DEAD)
    async with db() as session:
        delivery_id = (await session.scalars(select(Delivery.id))).one()
    async with db.begin() as session:
        await disable_endpoint(session, endpoint)
    for target, code in ((delivery_id, "endpoint_disabled"), (event, "no_enabled_endpoint")):
        with pytest.raises(Conflict) as caught:
            await _resend(db, ids, target)
        assert caught.value.code == code
    async with db() as session:
        assert (await session.scalars(select(Delivery.state))).one() is DeliveryState.DEAD


async def test_resending_something_unknown_is_not_found(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    with pytest.raises(NotFound):
        await _resend(db, ids, "evt_missing")
