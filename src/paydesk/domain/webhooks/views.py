"""Read-only views of deliveries for operators (``paydesk webhooks list``).

Secrets never appear here: an endpoint is shown with the *number* of active secrets only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint

__all__ = ["DeliveryView", "attempts_of", "recent_deliveries"]


@dataclass(frozen=True, kw_only=True)
class DeliveryView:
    """One delivery as an operator sees it: which event, where, how far it got."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    state: DeliveryState
    attempts: int
    last_status: int | None
    next_attempt_at: datetime
    delivered_at: datetime | None


async def recent_deliveries(
    session: AsyncSession,
    *,
    limit: int = 20,
    mchid: str | None = None,
    state: DeliveryState | None = None,
) -> list[DeliveryView]:
    """The most recently created deliveries, newest first (optionally one merchant / state)."""
    query = (
        select(
            Delivery.id,
            Delivery.event_id,
            OutboxEvent.type,
            Delivery.endpoint_id,
            WebhookEndpoint.url,
            Delivery.state,
            Delivery.attempts,
            Delivery.last_status,
            Delivery.next_attempt_at,
            Delivery.delivered_at,
        )
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if mchid is not None:
        query = query.where(WebhookEndpoint.mchid == mchid)
    if state is not None:
        query = query.where(Delivery.state == state)
    return [
        DeliveryView(
            id=row.id,
            event_id=row.event_id,
            event_type=row.type,
            endpoint_id=row.endpoint_id,
            url=row.url,
            state=row.state,
            attempts=row.attempts,
            last_status=row.last_status,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
        )
        for row in await session.execute(query)
    ]


async def attempts_of(session: AsyncSession, delivery_id: str) -> list[DeliveryAttempt]:
    """Every logged try of one delivery, oldest first."""
    query = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    )
    return list((await session.scalars(query)).all())
