"""The parameters a client needs to pay an attempt, freshly signed each time they are asked for.

* mini program / JSAPI: ``{appId, timeStamp, nonceStr, package, signType, paySign}`` for
  ``wx.requestPayment`` / ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)`` — v3 RSA with
  the merchant's key, or v2 MD5 / HMAC-SHA256 with its v2 key, as the merchant is configured;
* APP: the OpenSDK ``PayReq`` fields; Native: ``code_url``; H5: ``h5_url`` (with our
  ``redirect_url`` appended).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from paydesk.db.enums import ApiVersion, PaymentChannel
from paydesk.db.models import Payment
from paydesk.domain.errors import InvalidInput
from paydesk.protocol.v2.pay_params import app_pay_params_v2, jsapi_pay_params_v2
from paydesk.protocol.v3.pay_params import app_pay_params, miniprogram_pay_params

if TYPE_CHECKING:
    from paydesk.domain.context import Services


def client_params(
    services: Services, payment: Payment, *, redirect_url: str | None = None
) -> dict[str, str]:
    """What the client passes to WeChat to pay ``payment``."""
    channel = PaymentChannel(payment.channel)
    if channel == PaymentChannel.NATIVE:
        return {"code_url": payment.code_url or ""}
    if channel == PaymentChannel.H5:
        url = payment.h5_url or ""
        if redirect_url:
            url = f"{url}&redirect_url={quote(redirect_url, safe='')}"
        return {"h5_url": url}
    account = services.wechat.merchants[payment.mchid]
    prepay_id = payment.prepay_id or ""
    timestamp = int(services.clock.now().timestamp())
    nonce = services.ids.nonce()
    v2 = ApiVersion(payment.api_version) == ApiVersion.V2
    if v2 and account.v2_key is None:
        raise InvalidInput("merchant_config", f"merchant {payment.mchid} has no APIv2 key")
    if channel == PaymentChannel.APP:
        if v2:
            return app_pay_params_v2(
                appid=payment.appid,
                mchid=payment.mchid,
                prepay_id=prepay_id,
                key=account.v2_key or "",
                sign_type=account.v2_sign_type,
                timestamp=timestamp,
                nonce=nonce,
            )
        return app_pay_params(
            appid=payment.appid,
            mchid=payment.mchid,
            prepay_id=prepay_id,
            private_key=account.private_key,
            timestamp=timestamp,
            nonce=nonce,
        )
    if v2:
        return jsapi_pay_params_v2(
            appid=payment.appid,
            prepay_id=prepay_id,
            key=account.v2_key or "",
            sign_type=account.v2_sign_type,
            timestamp=timestamp,
            nonce=nonce,
        )
    return miniprogram_pay_params(
        appid=payment.appid,
        prepay_id=prepay_id,
        private_key=account.private_key,
        timestamp=timestamp,
        nonce=nonce,
    )
