"""Operational records: stored API responses for ``Idempotency-Key``, and anomalies.

An idempotency key is claimed by inserting its row (unique per API key and key), so two
concurrent requests with the same key cannot both run::

    >>> [c.name for c in IdempotencyKey.__table__.constraints if c.name.startswith("uq_")]
    ['uq_idempotency_keys_scope_key']
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from paydesk.db.base import Base
from paydesk.db.models._columns import IdRef, MchId, PrefixedId, Sha256Hex

if TYPE_CHECKING:
    from paydesk.db.models.orders import Order, Refund

__all__ = ["Anomaly", "IdempotencyKey"]


class IdempotencyKey(Base):
    """A request made with an ``Idempotency-Key`` header and, once finished, its response.

    ``scope`` is the API key's id. While the first request runs, ``response_status`` is NULL
    and ``locked_at`` says since when; a replay with a different ``request_hash`` is refused.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[PrefixedId]
    scope: Mapped[IdRef]
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[Sha256Hex]
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    locked_at: Mapped[datetime | None]


class Anomaly(Base):
    """Something a person must look at, never resolved silently.

    ``kind`` is open-ended: ``amount_mismatch``, ``paid_after_close``, ``double_payment``,
    ``unknown_order``, ``reconcile_missing_here``…
    """

    __tablename__ = "anomalies"
    __table_args__ = (Index(None, "resolved_at", "created_at"),)

    id: Mapped[PrefixedId]
    kind: Mapped[str] = mapped_column(String(64))
    mchid: Mapped[MchId]
    order_id: Mapped[IdRef | None] = mapped_column(ForeignKey("orders.id"), index=True)
    refund_id: Mapped[IdRef | None] = mapped_column(ForeignKey("refunds.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]

    order: Mapped[Order | None] = relationship(lazy="raise_on_sql")
    refund: Mapped[Refund | None] = relationship(lazy="raise_on_sql")
