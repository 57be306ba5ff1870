"""Which orders a mini program user may see and pay.

The merchant backend creates orders; a user only pays them. A user may see an order when
their app is bound to the order's merchant and the order is theirs:

* bound to them by the merchant — ``user_id``, or ``payer_openid`` in the order's app — or
  paid by them (``settle`` records the payer);
* or bound to nobody and not paid by anyone: still payable (CREATED / PAYING), or one they
  started paying before it was closed.

Any other order is answered as NotFound, exactly as a missing one: its existence is not
revealed to other users.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.cache import SessionRecord
from paydesk.db.enums import OrderState
from paydesk.db.models import Order, Payment
from paydesk.domain.errors import NotFound

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["order_for_user", "owned_by", "visible_to"]

_PAYABLE = (OrderState.CREATED, OrderState.PAYING)


def owned_by(order: Order, user: SessionRecord) -> bool | None:
    """True/False when the order names its payer (by user id or openid); None when it names
    nobody.

    >>> from datetime import UTC, datetime
    >>> user = SessionRecord("ses_1", "usr_1", "wx1", "o-1", "k", datetime(2030, 1, 1, tzinfo=UTC))
    >>> owned_by(Order(user_id="usr_1"), user), owned_by(Order(user_id="usr_2"), user)
    (True, False)
    >>> owned_by(Order(appid="wx1", payer_openid="o-1"), user), owned_by(Order(), user)
    (True, None)
    """
    if order.user_id is not None:
        return order.user_id == user.user_id
    if order.payer_openid is not None:
        payer_app = order.payer_appid or order.appid
        return order.payer_openid == user.openid and payer_app == user.appid
    return None


async def _attempted_by(session: AsyncSession, order_id: str, user: SessionRecord) -> bool:
    query = select(
        exists().where(
            Payment.order_id == order_id,
            Payment.appid == user.appid,
            Payment.openid == user.openid,
        )
    )
    return bool(await session.scalar(query))


def visible_to(order: Order, attempts: Sequence[Payment], user: SessionRecord) -> bool:
    """Whether ``user`` may see ``order`` (see the module docstring), given all its attempts.

    For callers that have loaded the order with its attempts anyway (``start_payment``); the
    app ↔ merchant binding is checked apart (``Registry``).
    """
    owned = owned_by(order, user)
    if owned is not None:
        return owned
    return OrderState(order.state) in _PAYABLE or any(
        attempt.appid == user.appid and attempt.openid == user.openid for attempt in attempts
    )


async def order_for_user(services: Services, order_id: str, user: SessionRecord) -> Order:
    """The order ``order_id`` if ``user`` may see and pay it; NotFound otherwise."""
    async with services.db() as session:
        order = await session.get(Order, order_id)
        if order is None or order.mchid not in services.registry.app(user.appid).merchants:
            raise NotFound("order_not_found", f"no order {order_id}")
        owned = owned_by(order, user)
        if owned is None:
            owned = OrderState(order.state) in _PAYABLE or await _attempted_by(
                session, order.id, user
            )
    if not owned:
        raise NotFound("order_not_found", f"no order {order_id}")
    return order
