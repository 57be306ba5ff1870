"""The cashier link: ``{public_url}/pay/{token}``, a signed reference to one order.

The token (:mod:`paydesk.domain.tokens`, purpose ``cashier``) carries only the order id and
expires with the order, so a link can neither be forged, nor pointed at another order, nor
replayed as another kind of token. The pages after payment (result, status) still accept it
for :data:`RESULT_GRACE` after it expired, so a shopper who paid in the last minute is told
"paid" rather than "expired"::

    link = await issue_link(services, "ord_01…", mchid="1900000001")
    link.url          # 'https://pay.example.com/pay/eyJvcmRlciI6…'
    opened = open_link(services, token)   # Opened(order_id='ord_01…', expired=False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from paydesk.db.enums import OrderState
from paydesk.domain.errors import Conflict, Unauthenticated
from paydesk.domain.orders.service import get_order
from paydesk.domain.tokens import sign_token, verify_token

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["CASHIER_PURPOSE", "RESULT_GRACE", "CashierLink", "Opened", "issue_link", "open_link"]

#: The purpose the cashier token is signed for (a pay ticket or OAuth state never verifies).
CASHIER_PURPOSE = "cashier"
#: How long after the order's expiry the link still shows the order's outcome.
RESULT_GRACE = timedelta(days=1)
#: Order states a new link may be issued for.
_PAYABLE = (OrderState.CREATED, OrderState.PAYING)


@dataclass(frozen=True)
class CashierLink:
    """A link to hand to the shopper, and when it stops taking payments."""

    order_id: str
    token: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Opened:
    """What a valid token names; ``expired`` when only the after-payment pages accept it."""

    order_id: str
    expired: bool


def link_url(public_url: str, token: str) -> str:
    """The page URL for ``token``.

    >>> link_url("https://pay.example.com/", "abc.def")
    'https://pay.example.com/pay/abc.def'
    """
    return f"{public_url.rstrip('/')}/pay/{token}"


async def issue_link(services: Services, order_id: str, *, mchid: str | None) -> CashierLink:
    """A link for ``order_id`` (merchant-scoped by ``mchid``); the order must still be payable.

    Raises NotFound for an order outside the scope, Conflict for one paid, closed or expired.
    The token is deterministic, so asking twice gives the same link.
    """
    async with services.db() as session:
        order = await get_order(session, order_id, mchid=mchid)
    state = OrderState(order.state)
    if state not in _PAYABLE:
        raise Conflict(
            "order_not_payable",
            f"order {order_id} is {state}; it cannot be paid",
            state=state.value,
        )
    if order.expires_at <= services.clock.now():
        raise Conflict("order_expired", f"order {order_id} has expired; create a new one")
    token = sign_token(
        services.secret_key, CASHIER_PURPOSE, {"order": order.id}, expires_at=order.expires_at
    )
    return CashierLink(
        order_id=order.id,
        token=token,
        url=link_url(services.settings.public_url, token),
        expires_at=order.expires_at,
    )


def open_link(services: Services, token: str) -> Opened:
    """The order a cashier token names; Unauthenticated when it is forged or long expired."""
    now = services.clock.now()
    try:
        payload = verify_token(services.secret_key, CASHIER_PURPOSE, token, now=now)
        expired = False
    except Unauthenticated as exc:
        if exc.code != f"expired_{CASHIER_PURPOSE}":
            raise
        payload = verify_token(services.secret_key, CASHIER_PURPOSE, token, now=now - RESULT_GRACE)
        expired = True
    order_id = payload.get("order")
    if not isinstance(order_id, str) or not order_id:
        raise Unauthenticated("invalid_cashier", "this cashier link names no order")
    return Opened(order_id=order_id, expired=expired)
