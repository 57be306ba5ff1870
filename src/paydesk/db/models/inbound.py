"""What WeChat sends us: payment and refund notifications, and customer-service pushes.

Every notification delivery is stored raw, verified or not, duplicate or not, so any verdict can
be audited and replayed; ``event_id`` is therefore indexed but deliberately *not* unique::

    >>> Notification.__table__.c.event_id.unique is None
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from paydesk.db.base import Base
from paydesk.db.enums import ApiVersion, NotificationKind
from paydesk.db.models._columns import AppId, IdRef, MchId
from paydesk.db.types import AutoIncrementId

if TYPE_CHECKING:
    from paydesk.db.models.orders import Order

__all__ = ["Notification", "PushMessage"]


class Notification(Base):
    """One notification delivery exactly as received, with what paydesk made of it.

    ``verdict`` is a short word (``applied``, ``duplicate``, ``bad_signature``,
    ``sign_test_probe``…); ``detail`` says more in prose.
    """

    __tablename__ = "notifications"

    id: Mapped[AutoIncrementId]
    received_at: Mapped[datetime]
    mchid: Mapped[MchId]
    api_version: Mapped[ApiVersion]
    kind: Mapped[NotificationKind]
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    headers: Mapped[dict[str, Any]]
    body: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[IdRef | None] = mapped_column(ForeignKey("orders.id"), index=True)

    order: Mapped[Order | None] = relationship(lazy="raise_on_sql")


class PushMessage(Base):
    """A customer-service message pushed by WeChat, once per ``dedupe_key``.

    WeChat retries a push it got no answer to within 5 s; the key (``MsgId``, or
    ``FromUserName`` + ``CreateTime`` for events) makes the retry a no-op.
    """

    __tablename__ = "push_messages"

    appid: Mapped[AppId] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    handled_at: Mapped[datetime | None]
