"""Mini program virtual payment: the parameters of ``wx.requestVirtualPayment`` (PROTOCOL.md §4.7).

``POST /api/v1/orders/{id}/pay {"channel": "virtual"}`` (the mini program user) gets::

    {"signData": '{"offerId":…,"buyQuantity":1,"env":1,"currencyType":"CNY",
                   "productId":…,"goodsPrice":<the order's amount>,"outTradeNo":…,"attach":…}',
     "paySig": …, "signature": …, "mode": "short_series_goods"}

* ``offerId`` and the AppKey are the app's ``virtual_pay_offer_id`` / ``virtual_pay_app_key``
  (configure the sandbox AppKey where ``env`` is 1, the live one where it is 0);
* ``productId`` is the item configured in WeChat's virtual-payment console, given by the
  merchant as the order's ``metadata.virtual_product_id``; ``goodsPrice`` is the order's
  amount — never a client's word — bought once;
* ``env`` is 1 (WeChat's virtual-payment sandbox) in development or against the paydesk
  sandbox, 0 otherwise;
* ``outTradeNo`` is a payment attempt's trade number (recorded in ``payments`` with channel
  ``virtual``), ``attach`` the order id;
* ``signature`` is keyed by the user's ``session_key``, which never leaves the server.

The order becomes PAID only when WeChat pushes ``xpay_goods_deliver_notify`` to the app's
push URL (:mod:`.virtual_paid`; docs/virtual-payment.md).

A still-open virtual attempt of the same user and parameters is reused (same ``outTradeNo``,
freshly signed: the session_key may have changed since). Open WeChat Pay attempts of the order
are closed at WeChat first, as when switching channels, so the order cannot be paid twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from paydesk.cache import SessionRecord
from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Order, Payment
from paydesk.domain.cashier.hosts import sandbox_base
from paydesk.domain.errors import Conflict, InvalidInput
from paydesk.domain.orders.states import transition
from paydesk.domain.payments import remote
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.users import order_for_user
from paydesk.protocol.virtual_payment import Mode, virtual_payment_params
from paydesk.settings import AppConfig

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["PRODUCT_KEY", "VIRTUAL_MODE", "VirtualStart", "start_virtual_payment", "virtual_env"]

#: The order metadata key naming the virtual-payment item.
PRODUCT_KEY = "virtual_product_id"
#: Buy one item priced at the order's amount.
VIRTUAL_MODE: Mode = "short_series_goods"


@dataclass(frozen=True)
class VirtualStart:
    """The attempt, ``wx.requestVirtualPayment``'s parameters, and whether it was reused."""

    payment: Payment
    params: dict[str, str]
    reused: bool


def virtual_env(services: Services) -> int:
    """1 (WeChat's virtual-payment sandbox) in development or with the paydesk sandbox, else 0."""
    development = services.settings.environment == "development"
    return 1 if development or sandbox_base(services) is not None else 0


def _configured(app: AppConfig, order: Order) -> tuple[str, str, str]:
    """The app's AppKey and offer id, and the order's item id; InvalidInput when missing."""
    if app.type != "miniprogram":
        raise InvalidInput("channel_not_for_app", f"a {app.type} app cannot pay through virtual")
    if app.virtual_pay_app_key is None or not app.virtual_pay_offer_id:
        raise InvalidInput(
            "virtual_pay_not_configured",
            f"app {app.appid} needs virtual_pay_app_key and virtual_pay_offer_id",
        )
    product_id = order.metadata_.get(PRODUCT_KEY)
    if not isinstance(product_id, str) or not product_id:
        raise InvalidInput(
            "virtual_product_missing",
            f"virtual payment needs the item id in the order's metadata.{PRODUCT_KEY}",
        )
    return app.virtual_pay_app_key.get_secret_value(), app.virtual_pay_offer_id, product_id


def _fingerprint(order: Order, user: SessionRecord, offer_id: str, product: str, env: int) -> str:
    parts = ["virtual", user.appid, user.openid, str(order.amount), offer_id, product, str(env)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _trade_number(order: Order, attempts: list[Payment]) -> str:
    if not attempts:
        return order.out_trade_no
    suffix = f"-{len(attempts) + 1}"
    return order.out_trade_no[: 32 - len(suffix)] + suffix


async def _close_pay_attempts(services: Services, order: Order, attempts: list[Payment]) -> None:
    """Close the order's open WeChat Pay attempts, so only the virtual one can be paid."""
    now = services.clock.now()
    for attempt in attempts:
        if attempt.closed_at is not None or attempt.channel == PaymentChannel.VIRTUAL:
            continue
        if await remote.close(services, attempt) == "paid":
            await sync_order(services, order.id, cause="pay.found_paid")
            raise Conflict("order_paid", f"order {order.id} has already been paid")
        attempt.closed_at = now


async def _reserve(
    services: Services, order: Order, user: SessionRecord, attempts: list[Payment], digest: str
) -> Payment:
    """Record the attempt (and CREATED → PAYING) in one transaction."""
    now = services.clock.now()
    merchant = services.registry.merchant(order.mchid)
    payment = Payment(
        id=services.ids.new("pay"),
        order_id=order.id,
        out_trade_no=_trade_number(order, attempts),
        channel=PaymentChannel.VIRTUAL,
        api_version=ApiVersion(order.api_version or merchant.api_version),
        appid=user.appid,
        mchid=order.mchid,
        openid=user.openid,
        params_hash=digest,
        created_at=now,
        expires_at=order.expires_at,
    )
    try:
        async with services.db.begin() as session:
            for closed in (a for a in attempts if a.closed_at is not None):
                await session.merge(closed)
            session.add(payment)
            if OrderState(order.state) == OrderState.CREATED:
                await transition(
                    session,
                    order_id=order.id,
                    to=OrderState.PAYING,
                    cause="pay.virtual",
                    now=now,
                    ids=services.ids,
                    detail={"out_trade_no": payment.out_trade_no},
                )
    except IntegrityError as exc:  # another request reserved this trade number first
        raise Conflict(
            "payment_in_progress", f"order {order.id} is being paid right now; try again"
        ) from exc
    return payment


async def start_virtual_payment(
    services: Services, order_id: str, user: SessionRecord
) -> VirtualStart:
    """Start (or resume) paying ``order_id`` by virtual payment as ``user``."""
    order = await order_for_user(services, order_id, user)
    app = services.registry.check_binding(user.appid, order.mchid)
    app_key, offer_id, product_id = _configured(app, order)
    state = OrderState(order.state)
    if state not in (OrderState.CREATED, OrderState.PAYING):
        code = "order_closed" if state == OrderState.CLOSED else "order_paid"
        raise Conflict(code, f"order {order.id} is {state}; it cannot be paid", state=state.value)
    now = services.clock.now()
    if order.expires_at <= now:
        raise Conflict("order_expired", f"order {order.id} has expired; create a new one")
    env = virtual_env(services)
    digest = _fingerprint(order, user, offer_id, product_id, env)
    async with services.db() as session:
        attempts = list(
            await session.scalars(
                select(Payment).where(Payment.order_id == order.id).order_by(Payment.created_at)
            )
        )
    same = [
        a
        for a in attempts
        if a.params_hash == digest and a.closed_at is None and a.transaction_id is None
    ]
    if same:
        payment, reused = same[-1], True
    else:
        await _close_pay_attempts(services, order, attempts)
        payment, reused = await _reserve(services, order, user, attempts, digest), False
    sign_data: dict[str, object] = {
        "offerId": offer_id,
        "buyQuantity": 1,
        "env": env,
        "currencyType": "CNY",
        "productId": product_id,
        "goodsPrice": order.amount,
        "outTradeNo": payment.out_trade_no,
        "attach": order.id,
    }
    params = virtual_payment_params(
        sign_data=sign_data, app_key=app_key, session_key=user.session_key, mode=VIRTUAL_MODE
    )
    return VirtualStart(payment, params, reused)
