"""The transactional outbox: every event for the merchant is a row written with its cause.

An event is ``{"id", "type", "created", "data"}`` — the exact JSON later signed and delivered
to the merchant's webhook endpoints (at least once, by the workers). Writing it in the same
transaction as the state change means a committed change is always announced and an announced
change always committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.models import OutboxEvent
from paydesk.domain.ids import IdSource

EVENT_TYPES = frozenset(
    {
        "order.paid",
        "order.closed",
        "order.refunded",
        "refund.succeeded",
        "refund.failed",
        "anomaly.created",
    }
)


def event_payload(event_id: str, type: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The event as the merchant receives it.

    >>> from datetime import UTC, datetime
    >>> event_payload("evt_1", "order.paid", {}, datetime(2026, 1, 1, tzinfo=UTC))["created"]
    1767225600
    """
    return {"id": event_id, "type": type, "created": int(now.timestamp()), "data": data}


def event_payload_sql(event_id: str, type: str, created: str, data: str) -> str:
    """:func:`event_payload` as a PostgreSQL ``jsonb`` expression, for a statement that writes
    its outbox row itself; the arguments are SQL expressions (parameters, columns).

    The one-statement notification path uses it; its tests hold the payload it writes equal
    to the one :func:`add_event` writes.

    >>> event_payload_sql(":id", "'order.paid'", ":created", "'{}'::jsonb")
    "jsonb_build_object('id', :id, 'type', 'order.paid', 'created', :created, 'data', '{}'::jsonb)"
    """
    return (
        f"jsonb_build_object('id', {event_id}, 'type', {type},"
        f" 'created', {created}, 'data', {data})"
    )


async def add_event(
    session: AsyncSession,
    *,
    ids: IdSource,
    type: str,
    mchid: str,
    data: dict[str, Any],
    now: datetime,
    order_id: str | None = None,
    refund_id: str | None = None,
) -> OutboxEvent:
    """Add one event to the outbox in the caller's transaction."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event_id = ids.new("evt")
    row = OutboxEvent(
        id=event_id,
        type=type,
        mchid=mchid,
        order_id=order_id,
        refund_id=refund_id,
        payload=event_payload(event_id, type, data, now),
        created_at=now,
    )
    session.add(row)
    return row
