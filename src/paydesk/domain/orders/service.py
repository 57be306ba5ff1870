"""Creating, reading and listing orders. Amounts come from the merchant backend only.

Creation writes the order and its first ``order_events`` row (cause ``api.create``) in one
transaction; a second order with the same ``merchant_order_id`` for the merchant is a Conflict
(the Idempotency-Key layer above replays the first response for an identical retry); a
``user_id`` that names no user is NotFound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import OrderState
from paydesk.db.errors import violates_foreign_key
from paydesk.db.models import Order, OrderEvent
from paydesk.domain.errors import Conflict, InvalidInput, NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.registry import Registry

MAX_AMOUNT_FEN = 2**31 - 1  # WeChat's amount.total is a 32-bit int
MIN_TTL = timedelta(minutes=1)  # WeChat refuses time_expire < order time + 1 min
MAX_TTL = timedelta(days=7)


@dataclass(frozen=True)
class NewOrder:
    """What the merchant backend asks for. ``amount`` is integer fen."""

    merchant_order_id: str
    amount: int
    description: str
    mchid: str | None = None
    appid: str | None = None
    attach: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    expires_in: int | None = None
    payer_openid: str | None = None
    user_id: str | None = None


def _check(new: NewOrder) -> None:
    if isinstance(new.amount, bool) or not isinstance(new.amount, int):
        raise InvalidInput("invalid_amount", "amount must be an integer number of fen")
    if not 0 < new.amount <= MAX_AMOUNT_FEN:
        raise InvalidInput("invalid_amount", f"amount must be 1…{MAX_AMOUNT_FEN} fen")
    if any(ord(ch) > 0xFFFF for ch in new.description):
        raise InvalidInput(
            "invalid_description", "description must not contain emoji or other 4-byte characters"
        )


def new_order_rows(
    new: NewOrder, *, registry: Registry, ids: IdSource, now: datetime, default_ttl: timedelta
) -> tuple[Order, OrderEvent]:
    """The order (CREATED) and its first event, checked and not yet stored: every way of
    storing them writes exactly these values."""
    _check(new)
    merchant = registry.merchant(new.mchid) if new.mchid else registry.default_merchant()
    app = (
        registry.check_binding(new.appid, merchant.mchid)
        if new.appid
        else registry.default_app(merchant.mchid)
    )
    ttl = timedelta(seconds=new.expires_in) if new.expires_in is not None else default_ttl
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidInput("invalid_expiry", "expires_in must be between 60 s and 7 days")
    order = Order(
        id=ids.new("ord"),
        out_trade_no=ids.out_trade_no(),
        mchid=merchant.mchid,
        appid=app.appid,
        merchant_order_id=new.merchant_order_id,
        amount=new.amount,
        currency="CNY",
        description=new.description,
        attach=new.attach,
        metadata_=dict(new.metadata),
        state=OrderState.CREATED,
        user_id=new.user_id,
        payer_openid=new.payer_openid,
        refunded_amount=0,
        version=0,
        expires_at=now + ttl,
        created_at=now,
        updated_at=now,
        check_attempts=0,
    )
    event = OrderEvent(
        order_id=order.id,
        from_state=None,
        to_state=OrderState.CREATED.value,
        cause="api.create",
        detail={"amount": new.amount},
        created_at=now,
    )
    return order, event


def refused(order: Order, error: IntegrityError) -> NotFound | Conflict:
    """What the database refusing ``order`` means to the merchant: a ``user_id`` naming no
    user (the one foreign key a request sets), else a ``merchant_order_id`` already taken."""
    if violates_foreign_key(error):
        return NotFound(
            "user_not_found",
            f"no user {order.user_id!r}: pass the user id paydesk returned at the mini "
            "program's login, or leave user_id out",
        )
    return Conflict(
        "duplicate_merchant_order_id",
        f"merchant {order.mchid} already has an order {order.merchant_order_id!r}",
    )


async def add_new_order(session: AsyncSession, order: Order, event: OrderEvent) -> Order:
    """Store what :func:`new_order_rows` made, in the caller's transaction."""
    session.add_all([order, event])
    try:
        await session.flush()
    except IntegrityError as exc:
        raise refused(order, exc) from exc
    return order


async def get_order(session: AsyncSession, order_id: str, *, mchid: str | None = None) -> Order:
    """One order; NotFound if absent or outside the caller's merchant scope."""
    order = await session.get(Order, order_id, populate_existing=True)
    if order is None or (mchid is not None and order.mchid != mchid):
        raise NotFound("order_not_found", f"no order {order_id}")
    return order


async def list_orders(
    session: AsyncSession,
    *,
    mchid: str | None = None,
    state: OrderState | None = None,
    merchant_order_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    starting_after: str | None = None,
    limit: int = 20,
) -> tuple[list[Order], bool]:
    """Newest first; cursor ``starting_after`` is an order id (ids sort by creation time).

    Returns the page and whether there are more.
    """
    query = select(Order).order_by(Order.id.desc()).limit(limit + 1)
    if mchid is not None:
        query = query.where(Order.mchid == mchid)
    if state is not None:
        query = query.where(Order.state == state)
    if merchant_order_id is not None:
        query = query.where(Order.merchant_order_id == merchant_order_id)
    if created_after is not None:
        query = query.where(Order.created_at >= created_after)
    if created_before is not None:
        query = query.where(Order.created_at < created_before)
    if starting_after is not None:
        query = query.where(Order.id < starting_after)
    rows = list((await session.scalars(query)).all())
    return rows[:limit], len(rows) > limit
