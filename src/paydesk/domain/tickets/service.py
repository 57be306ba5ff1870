"""Pay tickets: how one mini program has an order paid by another (seed 002).

WeChat pays a mini program order only through an app bound to the merchant that takes the
money. When the platform's mini program (company A) is not that app, it hands the order to the
payer's mini program (company B, bound to the merchant) with ``wx.navigateToMiniProgram``'s
``extraData``. What it hands over is a **pay ticket**: a signed token
(:mod:`paydesk.domain.tokens`, purpose ``pay_ticket``) naming the order and the payer app,
valid for :data:`TICKET_TTL`::

    platform app (A): POST /api/v1/orders/{id}/pay-ticket {"payer_appid": B}  → extra_data
    wx.navigateToMiniProgram({appId: B, extraData})
    payer app (B):    POST /api/v1/auth/miniprogram {"appid": B, "code"}      (its own login)
                      POST /api/v1/pay-tickets/{ticket}/pay                   → wx.requestPayment
    settle:           orders.payer_appid = B, payer_openid = the payer's openid in B

**Single use?** A ticket is *pinned to its first payer*, not spent on first use: the first
user who pays with it owns it, and may use it again until it expires (a cancelled
``wx.requestPayment`` is retried with the same ticket, and gets the same prepay back); any
other user gets 409 ``ticket_taken``. Spending it at once would strand a payer who cancelled;
leaving it open would let a leaked ticket start payments for anyone. Paying twice is impossible
either way: once the order is PAID every pay call is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from paydesk.cache import LockTimeout, SessionRecord
from paydesk.db.enums import OrderState, PaymentChannel
from paydesk.db.models import Order
from paydesk.domain.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from paydesk.domain.orders.service import get_order
from paydesk.domain.payments.prepay import Payer, PaymentStart, start_payment
from paydesk.domain.tokens import sign_token, verify_token
from paydesk.domain.users import limits, order_for_user

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = [
    "PAY_TICKET_PURPOSE",
    "TICKET_TTL",
    "OpenedTicket",
    "PayTicket",
    "issue_for_merchant",
    "issue_for_user",
    "open_ticket",
    "pay_with_ticket",
]

#: The purpose the ticket is signed for: no cashier link or OAuth state ever verifies as one.
PAY_TICKET_PURPOSE = "pay_ticket"
#: How long a ticket may be used; long enough to open the other mini program and log in there.
TICKET_TTL = timedelta(minutes=5)
#: An order this close to its expiry gets no ticket.
EXPIRY_MARGIN = timedelta(minutes=1)
_PIN_KEY = "pay-ticket:"


@dataclass(frozen=True)
class PayTicket:
    """A ticket to hand to the payer app, and when it stops working."""

    ticket: str
    order_id: str
    payer_appid: str
    expires_at: datetime

    @property
    def extra_data(self) -> dict[str, str]:
        """What the platform app passes as ``wx.navigateToMiniProgram``'s ``extraData``."""
        return {"ticket": self.ticket}


@dataclass(frozen=True)
class OpenedTicket:
    """What a valid ticket names."""

    ticket_id: str
    order_id: str
    payer_appid: str
    expires_at: datetime


def _issue(services: Services, order: Order, payer_appid: str) -> PayTicket:
    now = services.clock.now()
    state = OrderState(order.state)
    if state not in (OrderState.CREATED, OrderState.PAYING):
        raise Conflict(
            "order_not_payable",
            f"order {order.id} is {state}; it cannot be paid",
            state=state.value,
        )
    if order.expires_at <= now + EXPIRY_MARGIN:
        raise Conflict("order_expired", f"order {order.id} has expired; create a new one")
    app = services.registry.check_binding(payer_appid, order.mchid)
    if app.type != "miniprogram":
        raise InvalidInput(
            "payer_not_miniprogram", f"app {payer_appid} is a {app.type}, not a mini program"
        )
    if order.payer_openid is not None and (order.payer_appid or order.appid) != payer_appid:
        # An openid belongs to one app: the payer app's user could never match it.
        raise Conflict(
            "order_bound_to_payer",
            f"order {order.id} names its payer in app {order.payer_appid or order.appid}; "
            "only that app can pay it",
        )
    expires_at = min(now + TICKET_TTL, order.expires_at)
    payload = {"order": order.id, "app": payer_appid, "tid": services.ids.token(10)}
    ticket = sign_token(services.secret_key, PAY_TICKET_PURPOSE, payload, expires_at=expires_at)
    return PayTicket(ticket, order.id, payer_appid, expires_at)


async def issue_for_user(
    services: Services, order_id: str, payer_appid: str, user: SessionRecord
) -> PayTicket:
    """A ticket for an order ``user`` (of the platform app) may pay."""
    order = await order_for_user(services, order_id, user)
    return _issue(services, order, payer_appid)


async def issue_for_merchant(
    services: Services, order_id: str, payer_appid: str, mchid: str | None
) -> PayTicket:
    """A ticket for an order of the API key's merchant (``mchid`` None: any merchant)."""
    async with services.db() as session:
        order = await get_order(session, order_id, mchid=mchid)
    return _issue(services, order, payer_appid)


def open_ticket(services: Services, ticket: str) -> OpenedTicket:
    """What ``ticket`` names; Unauthenticated when it is forged, tampered or expired."""
    payload = verify_token(
        services.secret_key, PAY_TICKET_PURPOSE, ticket, now=services.clock.now()
    )
    order_id, appid, ticket_id = payload.get("order"), payload.get("app"), payload.get("tid")
    if not all(isinstance(value, str) and value for value in (order_id, appid, ticket_id)):
        raise Unauthenticated("invalid_pay_ticket", "this pay_ticket names no order")
    expires_at = datetime.fromtimestamp(payload["exp"], tz=UTC)
    return OpenedTicket(str(ticket_id), str(order_id), str(appid), expires_at)


async def _pin(services: Services, opened: OpenedTicket, user: SessionRecord) -> None:
    """Make ``user`` the ticket's payer, unless another user is already."""
    key = _PIN_KEY + opened.ticket_id
    ttl = max(1.0, (opened.expires_at - services.clock.now()).total_seconds())
    try:
        async with services.cache.locks.lock(key, ttl=10, wait=5):
            holder = await services.cache.values.get(key)
            if holder is None:
                await services.cache.values.set(key, user.user_id, ttl=ttl)
            elif holder != user.user_id:
                raise Conflict("ticket_taken", "another user is paying with this pay_ticket")
    except LockTimeout as exc:
        raise Conflict("ticket_busy", "this pay_ticket is being used; try again") from exc


async def pay_with_ticket(
    services: Services, ticket: str, user: SessionRecord, *, client_ip: str | None
) -> PaymentStart:
    """Start (or resume) paying the ticket's order as ``user`` of the payer app."""
    opened = open_ticket(services, ticket)
    if opened.payer_appid != user.appid:
        raise Forbidden(
            "ticket_for_another_app",
            f"this pay_ticket is for app {opened.payer_appid}; log in there to use it",
        )
    await limits.enforce(services, f"pay:{user.user_id}", limits.PAY_PER_USER)
    await _pin(services, opened, user)
    # No user_id: the order's user (if any) is the platform app's; the ticket is the consent.
    payer = Payer(appid=user.appid, openid=user.openid, client_ip=client_ip)
    return await start_payment(services, opened.order_id, PaymentChannel.MINIPROGRAM, payer)
