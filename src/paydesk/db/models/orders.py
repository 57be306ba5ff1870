"""Orders and what happens to them: their history, prepay attempts and refunds.

Amounts are integer fen (:data:`~paydesk.db.types.Money`). The database itself refuses an
order of zero fen and refunds beyond what was paid::

    >>> checks = {c.name: str(c.sqltext) for c in Order.__table__.constraints
    ...           if isinstance(c, CheckConstraint)}
    >>> checks["ck_orders_refunded_within_paid"]
    'refunded_amount <= coalesce(paid_amount, amount)'
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from paydesk.db.base import Base
from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel, RefundState
from paydesk.db.models._columns import AppId, IdRef, MchId, OpenId, PrefixedId, Sha256Hex
from paydesk.db.types import AutoIncrementId, Money

if TYPE_CHECKING:
    from paydesk.db.models.identity import User

__all__ = ["Order", "OrderEvent", "Payment", "Refund"]


class Order(Base):
    """One thing to be paid for, created by the merchant backend.

    ``out_trade_no`` is paydesk's own number as WeChat sees it (6–32 characters, unique
    forever); ``merchant_order_id`` is the merchant's, unique per ``mchid``. ``version`` is
    bumped by every transition, which is always a conditional ``UPDATE … WHERE state IN …``.
    The Python attribute ``metadata_`` is the ``metadata`` column (``metadata`` is taken by
    SQLAlchemy).
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("mchid", "merchant_order_id"),
        Index(None, "state", "updated_at"),
        Index(None, "mchid", "created_at", "id"),
        Index(None, "state", "next_check_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency = 'CNY'", name="currency_cny"),
        CheckConstraint("length(out_trade_no) BETWEEN 6 AND 32", name="out_trade_no_length"),
        CheckConstraint("paid_amount IS NULL OR paid_amount >= 0", name="paid_amount_non_negative"),
        CheckConstraint("refunded_amount >= 0", name="refunded_amount_non_negative"),
        CheckConstraint(
            "refunded_amount <= coalesce(paid_amount, amount)", name="refunded_within_paid"
        ),
    )

    id: Mapped[PrefixedId]
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    mchid: Mapped[MchId]
    appid: Mapped[AppId]
    merchant_order_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Money]
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    description: Mapped[str] = mapped_column(String(127))
    attach: Mapped[str | None] = mapped_column(String(128))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    state: Mapped[OrderState]
    user_id: Mapped[IdRef | None] = mapped_column(ForeignKey("users.id"))
    payer_openid: Mapped[OpenId | None]
    #: Which app took the money (may differ from ``appid`` when paid through another app).
    payer_appid: Mapped[AppId | None]
    #: Fixed by the first prepay; later attempts must use the same generation.
    api_version: Mapped[ApiVersion | None]
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: ``payer_total`` as reported by WeChat (less than ``amount`` when a coupon paid part).
    paid_amount: Mapped[Money | None]
    refunded_amount: Mapped[Money] = mapped_column(default=0, server_default="0")
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: When the sweeps look at this order next (query while PAYING, close once expired);
    #: NULL until the first look. Pushing it forward is also how a sweep claims the order.
    next_check_at: Mapped[datetime | None]
    #: How often the sweeps have looked (the query backoff doubles with each look).
    check_attempts: Mapped[int] = mapped_column(default=0, server_default="0")

    user: Mapped[User | None] = relationship(lazy="raise_on_sql")


class OrderEvent(Base):
    """One transition of an order (or of one of its refunds), with its cause. Append-only.

    ``cause`` names who moved it: ``api.create``, ``notify.v3``, ``query``, ``sweep.expire``…
    For a refund's transition ``refund_id`` is set and the states are refund states, which is
    why the state columns are plain strings.
    """

    __tablename__ = "order_events"
    __table_args__ = (Index(None, "order_id", "id"),)

    id: Mapped[AutoIncrementId]
    order_id: Mapped[IdRef] = mapped_column(ForeignKey("orders.id"))
    refund_id: Mapped[IdRef | None] = mapped_column(ForeignKey("refunds.id"))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]

    order: Mapped[Order] = relationship(lazy="raise_on_sql")
    refund: Mapped[Refund | None] = relationship(lazy="raise_on_sql")


class Payment(Base):
    """One prepay attempt: what was asked of WeChat and what it answered.

    Each attempt has its own ``out_trade_no``: the first is the order's; a different channel or
    payer needs a new one (WeChat refuses changed parameters under an old number), after every
    open attempt was closed at WeChat. ``params_hash`` digests the parameters sent, so a
    still-valid ``prepay_id`` for the same parameters is reused instead of asking again.
    ``trade_state`` / ``transaction_id`` / ``paid_at`` are WeChat's last word on this attempt;
    ``closed_at`` is set when paydesk closed it at WeChat.
    """

    __tablename__ = "payments"
    __table_args__ = (Index(None, "order_id", "created_at"),)

    id: Mapped[PrefixedId]
    order_id: Mapped[IdRef] = mapped_column(ForeignKey("orders.id"))
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[PaymentChannel]
    api_version: Mapped[ApiVersion]
    appid: Mapped[AppId]
    mchid: Mapped[MchId]
    openid: Mapped[OpenId | None]
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    code_url: Mapped[str | None] = mapped_column(Text)
    h5_url: Mapped[str | None] = mapped_column(Text)
    params_hash: Mapped[Sha256Hex]
    trade_state: Mapped[str | None] = mapped_column(String(32))
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]

    order: Mapped[Order] = relationship(lazy="raise_on_sql")


class Refund(Base):
    """A refund of part or all of a paid order; ``out_refund_no`` is reused on every retry."""

    __tablename__ = "refunds"
    __table_args__ = (
        Index(None, "state", "updated_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[PrefixedId]
    order_id: Mapped[IdRef] = mapped_column(ForeignKey("orders.id"), index=True)
    #: Set only for an automatic refund of an anomalous attempt (paid after close, or a second
    #: payment): the attempt whose transaction is refunded. Such a refund is not counted in the
    #: order's ``refunded_amount`` and does not move the order. NULL: the order's paid attempt.
    payment_id: Mapped[IdRef | None] = mapped_column(ForeignKey("payments.id"))
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[Money]
    reason: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[RefundState]
    #: WeChat's own refund id, once WeChat has accepted the refund.
    refund_id: Mapped[str | None] = mapped_column(String(32), index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    succeeded_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(lazy="raise_on_sql")
