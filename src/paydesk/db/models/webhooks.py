"""Events out: the transactional outbox, webhook endpoints, deliveries and their attempts.

An :class:`OutboxEvent` is written in the same transaction as the state change it reports;
a worker then fans it out into one :class:`Delivery` per endpoint (unique per pair, so fanning
out twice is harmless) and logs one :class:`DeliveryAttempt` per try::

    >>> [c.name for c in Delivery.__table__.constraints if c.name.startswith("uq_")]
    ['uq_deliveries_event_id_endpoint_id']
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from paydesk.db.base import Base
from paydesk.db.enums import DeliveryState
from paydesk.db.models._columns import IdRef, MchId, PrefixedId
from paydesk.db.types import AutoIncrementId

if TYPE_CHECKING:
    from paydesk.db.models.orders import Order, Refund

__all__ = ["Delivery", "DeliveryAttempt", "OutboxEvent", "WebhookEndpoint"]

#: Longest response body kept per attempt (1 KiB): enough to see an error page's gist.
RESPONSE_EXCERPT_LENGTH = 1024


class OutboxEvent(Base):
    """An event for the merchant (``order.paid``, ``refund.succeeded``…), stored in full.

    ``payload`` is the exact ``{"id", "type", "created", "data"}`` object that is signed and
    sent; ``published_at`` is set once its deliveries exist.
    """

    __tablename__ = "outbox_events"

    id: Mapped[PrefixedId]
    type: Mapped[str] = mapped_column(String(64))
    mchid: Mapped[MchId]
    order_id: Mapped[IdRef | None] = mapped_column(ForeignKey("orders.id"), index=True)
    refund_id: Mapped[IdRef | None] = mapped_column(ForeignKey("refunds.id"))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None] = mapped_column(index=True)

    order: Mapped[Order | None] = relationship(lazy="raise_on_sql")
    refund: Mapped[Refund | None] = relationship(lazy="raise_on_sql")


class WebhookEndpoint(Base):
    """A merchant URL that receives events, with up to two active signing secrets.

    Two secrets let a merchant rotate: both sign during the overlap (``v1=`` twice).
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[PrefixedId]
    mchid: Mapped[MchId] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(Text)
    secrets: Mapped[list[str]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime]


class Delivery(Base):
    """One event on its way to one endpoint; claimed by a worker through ``locked_until``."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index(None, "state", "next_attempt_at"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[PrefixedId]
    event_id: Mapped[IdRef] = mapped_column(ForeignKey("outbox_events.id"))
    endpoint_id: Mapped[IdRef] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    state: Mapped[DeliveryState]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_status: Mapped[int | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    event: Mapped[OutboxEvent] = relationship(lazy="raise_on_sql")
    endpoint: Mapped[WebhookEndpoint] = relationship(lazy="raise_on_sql")


class DeliveryAttempt(Base):
    """One HTTP try of a delivery: when, how it ended, how long it took. Append-only."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index(None, "delivery_id", "attempted_at"),)

    id: Mapped[AutoIncrementId]
    delivery_id: Mapped[IdRef] = mapped_column(ForeignKey("deliveries.id"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(String(RESPONSE_EXCERPT_LENGTH))

    delivery: Mapped[Delivery] = relationship(lazy="raise_on_sql")
