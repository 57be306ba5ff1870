"""The prepay of each browser road, through the app that road pays with.

Thin on purpose: :func:`~paydesk.domain.payments.prepay.start_payment` does the work (reusing
a still-valid prepay, closing attempts on another channel first, the state change); this
module only says which app and channel each road uses, and returns what the page needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from paydesk.db.enums import PaymentChannel
from paydesk.domain.cashier.payers import payer_app
from paydesk.domain.payments.prepay import Payer, start_payment

if TYPE_CHECKING:
    from paydesk.domain.cashier.status import CashierView
    from paydesk.domain.context import Services

__all__ = ["prepay_h5", "prepay_jsapi", "prepay_native"]


async def prepay_jsapi(
    services: Services, view: CashierView, *, appid: str, openid: str, client_ip: str | None
) -> dict[str, str]:
    """``getBrandWCPayRequest``'s parameters for the payer ``openid`` of official account
    ``appid`` (the account the OAuth went through)."""
    payer = Payer(appid=appid, openid=openid, client_ip=client_ip)
    started = await start_payment(services, view.order_id, PaymentChannel.JSAPI, payer)
    return started.params


async def prepay_h5(
    services: Services,
    view: CashierView,
    *,
    client_ip: str | None,
    h5_type: Literal["iOS", "Android", "Wap"],
    redirect_url: str,
) -> str:
    """WeChat Pay's ``h5_url``, returning to ``redirect_url`` after paying or cancelling."""
    app = payer_app(services.registry, view.mchid, view.appid, "h5")
    payer = Payer(appid=app.appid, client_ip=client_ip, h5_type=h5_type)
    started = await start_payment(
        services, view.order_id, PaymentChannel.H5, payer, redirect_url=redirect_url
    )
    return started.params["h5_url"]


async def prepay_native(services: Services, view: CashierView, *, client_ip: str | None) -> str:
    """The Native ``code_url`` to show as a QR code."""
    app = payer_app(services.registry, view.mchid, view.appid, "native")
    payer = Payer(appid=app.appid, client_ip=client_ip)
    started = await start_payment(services, view.order_id, PaymentChannel.NATIVE, payer)
    return started.params["code_url"]
