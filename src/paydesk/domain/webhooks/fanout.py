"""Fan-out: turn each new outbox event into one delivery per enabled endpoint of its merchant.

An event is *published* once its deliveries exist (``published_at`` set, in the same
transaction). Workers may run this concurrently: on PostgreSQL the events are claimed with
``FOR UPDATE SKIP LOCKED``, and a delivery that already exists for an (event, endpoint) pair is
left alone, so publishing twice is harmless. An event whose merchant has no enabled endpoint is
published with no delivery; ``resend`` can deliver it later to an endpoint added since.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import DeliveryState
from paydesk.db.models import OutboxEvent, WebhookEndpoint
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks._sql import insert_deliveries_ignoring_duplicates, skip_locked

__all__ = ["publish_pending"]


async def publish_pending(
    session: AsyncSession, *, ids: IdSource, now: datetime, limit: int = 100
) -> int:
    """Publish up to ``limit`` unpublished events, oldest first; returns how many.

    Runs in the caller's transaction; the claim on the events lasts until it commits.
    """
    claim = (
        select(OutboxEvent.id, OutboxEvent.mchid)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.created_at, OutboxEvent.id)
        .limit(limit)
    )
    events = (await session.execute(skip_locked(session, claim, of=OutboxEvent))).all()
    if not events:
        return 0
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.mchid)
            .where(WebhookEndpoint.mchid.in_({event.mchid for event in events}))
            .where(WebhookEndpoint.enabled)
        )
    ).all()
    await insert_deliveries_ignoring_duplicates(
        session,
        [
            {
                "id": ids.new("dlv"),
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in events
            for endpoint in endpoints
            if endpoint.mchid == event.mchid
        ],
    )
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([event.id for event in events]))
        .values(published_at=now)
    )
    return len(events)
