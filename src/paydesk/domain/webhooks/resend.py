"""Resending by hand: an event to every enabled endpoint of its merchant, or one delivery.

``resend(session, "evt_…")`` gives each enabled endpoint of the event's merchant a delivery due
now: a fresh PENDING one where none exists (an endpoint added after the event), or the existing
one reset. ``resend(session, "dlv_…")`` does the same for one delivery. A reset opens a new
24 h retry window and restarts the backoff at 10 s; the attempts already logged stay in
``delivery_attempts``. A delivery that is still PENDING is only made due now (its retry window
and any lease held by a worker sending it right now are kept). The event keeps its ``id``, so a
receiver that dedupes on it treats a resend of something it already has as the duplicate it is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, OutboxEvent, WebhookEndpoint
from paydesk.domain.errors import Conflict, NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks._sql import insert_deliveries_ignoring_duplicates, is_postgresql

__all__ = ["resend", "reset_delivery"]


def reset_delivery(delivery: Delivery, *, now: datetime) -> Delivery:
    """Make ``delivery`` due now; a DEAD or DELIVERED one starts a new retry window.

    >>> from datetime import UTC
    >>> now = datetime(2024, 5, 3, tzinfo=UTC)
    >>> dead = Delivery(state=DeliveryState.DEAD, attempts=31, created_at=datetime(2024, 5, 1))
    >>> reset = reset_delivery(dead, now=now)
    >>> (reset.state.value, reset.attempts, reset.created_at == now, reset.next_attempt_at == now)
    ('PENDING', 0, True, True)
    """
    if delivery.state != DeliveryState.PENDING:
        delivery.state = DeliveryState.PENDING
        delivery.attempts = 0
        # created_at is where the retry window starts (see claims.ClaimedDelivery.window_start).
        delivery.created_at = now
        delivery.delivered_at = None
    delivery.next_attempt_at = now
    return delivery


async def _locked_delivery(session: AsyncSession, delivery_id: str) -> Delivery | None:
    query = select(Delivery).where(Delivery.id == delivery_id)
    if is_postgresql(session):
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def _resend_delivery(session: AsyncSession, delivery: Delivery, now: datetime) -> Delivery:
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        raise Conflict(
            "endpoint_disabled",
            f"endpoint {delivery.endpoint_id} is disabled: enable it before resending",
        )
    reset_delivery(delivery, now=now)
    await session.flush()
    return delivery


async def _resend_event(
    session: AsyncSession, event: OutboxEvent, *, ids: IdSource, now: datetime
) -> list[Delivery]:
    endpoint_ids = list(
        (
            await session.scalars(
                select(WebhookEndpoint.id)
                .where(WebhookEndpoint.mchid == event.mchid, WebhookEndpoint.enabled)
                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            )
        ).all()
    )
    if not endpoint_ids:
        raise Conflict(
            "no_enabled_endpoint",
            f"merchant {event.mchid} has no enabled webhook endpoint to send {event.id} to",
        )
    await insert_deliveries_ignoring_duplicates(
        session,
        [
            {
                "id": ids.new("dlv"),
                "event_id": event.id,
                "endpoint_id": endpoint_id,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in endpoint_ids
        ],
    )
    query = (
        select(Delivery)
        .where(Delivery.event_id == event.id, Delivery.endpoint_id.in_(endpoint_ids))
        .order_by(Delivery.created_at, Delivery.id)
        .execution_options(populate_existing=True)
    )
    if is_postgresql(session):
        query = query.with_for_update()
    deliveries = list((await session.scalars(query)).all())
    for delivery in deliveries:
        reset_delivery(delivery, now=now)
    await session.flush()
    return deliveries


async def resend(
    session: AsyncSession, target_id: str, *, ids: IdSource, now: datetime
) -> list[Delivery]:
    """Resend an event (``evt_…``) or one delivery (``dlv_…``); returns the deliveries now due.

    NotFound if ``target_id`` is neither; Conflict if there is no enabled endpoint to send to.
    """
    delivery = await _locked_delivery(session, target_id)
    if delivery is not None:
        return [await _resend_delivery(session, delivery, now)]
    event = await session.get(OutboxEvent, target_id)
    if event is None:
        raise NotFound("not_found", f"no webhook event or delivery {target_id}")
    return await _resend_event(session, event, ids=ids, now=now)
