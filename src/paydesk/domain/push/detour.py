"""The iOS detour: a user names an order on customer service; paydesk sends back a link card
to the cashier, where WeChat's browser pays it by OAuth + JSAPI (docs/ios-detour.md).

Apple forbids selling virtual goods through WeChat Pay inside an iOS mini program; a mini
program may still open customer service, and a link there opens in WeChat's browser, where
JSAPI pay is allowed. So::

    card / text ──push──► paydesk ──custom/send (link)──► the user taps it
        ──► /pay/{token} ──OAuth (official account)──► JSAPI ──► PAID

Which order, and may *this* user have a link to it?

* ``ord_…`` ids and ``PD…`` trade numbers are unguessable: the order may be paid by whoever
  holds one, unless the merchant bound it to another user;
* a merchant's own order id may be guessable (``A-1042``): only an order bound to this very
  user (``user_id``, or ``payer_openid`` in this app) answers to it;
* an order that names its payer by openid can be paid only through that payer's app, never
  through the official account's JSAPI: the user is told so instead of getting a dead link.

Anything else gets a text saying the order's state, or that no such order was found (only
when the user clearly named one: a chat line that merely contains a number gets no answer —
a person may be answering this customer service too).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from paydesk import client
from paydesk.db.enums import OrderState
from paydesk.db.models import Order, User
from paydesk.domain.cashier.links import issue_link
from paydesk.domain.cashier.payers import payer_app
from paydesk.domain.errors import Conflict
from paydesk.domain.payments.remote import upstream
from paydesk.domain.push.references import References, in_page_path, in_text
from paydesk.domain.push.replies import PushSettings, yuan
from paydesk.domain.push.thumb import THUMB_PATH
from paydesk.protocol.messages import PushedMessage, custom_link, custom_text
from paydesk.settings import AppConfig

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["Detour", "find_order", "references_of", "run_detour"]

#: An order this close to its expiry is not worth a link: OAuth and paying take a while.
EXPIRY_MARGIN = timedelta(minutes=1)
_PAYABLE = (OrderState.CREATED, OrderState.PAYING)


class Detour(StrEnum):
    """What the detour did with one message."""

    LINK_SENT = "link_sent"  #: a link card to the cashier
    NOT_PAYABLE_SENT = "not_payable_sent"  #: a text with the order's state
    NOT_FOUND_SENT = "not_found_sent"  #: a text saying no such order
    IGNORED = "ignored"  #: not about an order: no answer


def references_of(message: PushedMessage) -> References:
    """The orders a card or a text may be about (nothing for images and events)."""
    if message.msg_type == "miniprogrampage":
        return in_page_path(message.page_path)
    if message.msg_type == "text":
        return in_text(message.content)
    return References()


def _claim(order: Order, appid: str, openid: str, user_id: str | None) -> bool | None:
    """Whether the order names this user as its payer; None when it names nobody."""
    if order.user_id is not None:
        return order.user_id == user_id
    if order.payer_openid is not None:
        return order.payer_openid == openid and (order.payer_appid or order.appid) == appid
    return None


async def find_order(
    services: Services, app: AppConfig, openid: str, refs: References
) -> Order | None:
    """The order ``refs`` name that user ``openid`` of ``app`` may have a link to, if any."""
    trade_numbers = [number.partition("-")[0] for number in refs.trade_numbers]
    wanted = (
        (Order.id, refs.order_ids),
        (Order.out_trade_no, trade_numbers),
        (Order.merchant_order_id, refs.merchant_order_ids),
    )
    conditions = [column.in_(values) for column, values in wanted if values]
    async with services.db() as session:
        rows = list(
            await session.scalars(
                select(Order).where(Order.mchid.in_(app.merchants), or_(*conditions)).limit(20)
            )
        )
        user_id = await session.scalar(
            select(User.id).where(User.appid == app.appid, User.openid == openid)
        )
    strong = set(refs.order_ids) | set(trade_numbers)
    rows.sort(key=lambda order: order.id not in strong and order.out_trade_no not in strong)
    for order in rows:
        claim = _claim(order, app.appid, openid, user_id)
        by_number = order.id in strong or order.out_trade_no in strong
        if claim is True or (claim is None and by_number):
            return order
    return None


def _blocker(services: Services, order: Order) -> str | None:
    """Why a link to ``order`` would not work (a ``state_labels`` key), or None."""
    state = OrderState(order.state)
    if state not in _PAYABLE:
        return state.value
    if order.expires_at <= services.clock.now() + EXPIRY_MARGIN:
        return "EXPIRED"
    if order.payer_openid is not None:
        jsapi_app = payer_app(services.registry, order.mchid, order.appid, "jsapi")
        if (order.payer_appid or order.appid) != jsapi_app.appid:
            return "BOUND"
    return None


async def _send(services: Services, app: AppConfig, body: dict[str, Any]) -> None:
    try:
        await services.wechat.messages.send_custom(services.wechat.app(app.appid), body)
    except client.WeChatError as exc:
        raise upstream(exc) from exc


def _order_fields(services: Services, order: Order) -> dict[str, str]:
    merchant = services.registry.merchant(order.mchid)
    return {
        "description": order.description,
        "amount": yuan(order.amount),
        "merchant": merchant.name or merchant.mchid,
        "order": order.merchant_order_id,
    }


async def run_detour(
    services: Services, app: AppConfig, message: PushedMessage, settings: PushSettings
) -> Detour:
    """Answer ``message`` (a card or a text) with a link card, a state text, or nothing.

    Raises UpstreamFailed when WeChat refused or did not take the message (``retryable``
    says whether trying again may help).
    """
    refs = references_of(message)
    if not refs:
        return Detour.IGNORED
    openid = message.from_user
    order = await find_order(services, app, openid, refs)
    if order is None:
        if not refs.explicit:
            return Detour.IGNORED
        text = settings.render("not_found_text", reference=refs.shown)
        await _send(services, app, custom_text(openid, text))
        return Detour.NOT_FOUND_SENT
    fields = _order_fields(services, order)
    blocker = _blocker(services, order)
    link = None
    if blocker is None:
        try:
            link = await issue_link(services, order.id, mchid=None)
        except Conflict as exc:  # paid or closed a moment ago
            blocker = str(exc.details.get("state", "EXPIRED"))
    if link is None:
        label = settings.state_label(blocker or "EXPIRED")
        text = settings.render("not_payable_text", state=label, **fields)
        await _send(services, app, custom_text(openid, text))
        return Detour.NOT_PAYABLE_SENT
    thumb = settings.thumb_url or services.settings.public_url.rstrip("/") + THUMB_PATH
    card = custom_link(
        openid,
        settings.render("link_title", **fields),
        settings.render("link_description", **fields),
        link.url,
        thumb,
    )
    await _send(services, app, card)
    return Detour.LINK_SENT
