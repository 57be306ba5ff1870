"""Mini program virtual payment (``wx.requestVirtualPayment``, xpay) signatures (§4.7).

Two HMAC-SHA256 signatures, lowercase hex
(https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/virtual-payment.html):

- ``pay_sig`` = HMAC(AppKey, uri + "&" + body): ``uri`` is ``requestVirtualPayment`` for the
  client call (body = the ``signData`` string) or the server API path without query, e.g.
  ``/xpay/query_user_balance`` (body = the exact POST body). The AppKey is the live one for
  ``env`` 0 and the sandbox one for ``env`` 1.
- ``signature`` = HMAC(session_key, body), keyed with the session_key's *base64 text* as is.

Both sign a string, so the JSON must be sent exactly as signed: :func:`virtual_payment_params`
serialises ``signData`` once and signs those very characters.

>>> pay_sig("12345", "/xpay/query_user_balance",
...         '{"openid": "xxx", "user_ip": "127.0.0.1", "env": 0}')[:16]
'c37809f27c6d7fd1'
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Literal, TypeAlias

from paydesk.protocol.errors import MalformedInput

__all__ = [
    "CLIENT_URI",
    "Mode",
    "pay_sig",
    "user_signature",
    "virtual_payment_params",
]

#: The ``uri`` that ``pay_sig`` uses for the client-side ``wx.requestVirtualPayment`` call.
CLIENT_URI = "requestVirtualPayment"
#: ``short_series_goods`` (buy an item, priced by ``goodsPrice``) or ``short_series_coin``.
Mode: TypeAlias = Literal["short_series_goods", "short_series_coin"]

_REQUIRED = ("offerId", "buyQuantity", "env", "currencyType", "outTradeNo", "attach")
_GOODS_REQUIRED = ("productId", "goodsPrice")


def _hmac_hex(key: str, message: str) -> str:
    try:
        return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    except UnicodeEncodeError as exc:
        raise MalformedInput("virtual payment key or body is not valid UTF-8 text") from exc


def pay_sig(app_key: str, uri: str, body: str) -> str:
    """``pay_sig`` of ``body`` for ``uri`` under the AppKey.

    >>> pay_sig("12345", "/retail/B2b/getorder",
    ...         '{"mchid": "1230000109","out_trade_no": "1217752501201407033233368018"}')[:16]
    '2cb3e9fda4da9774'
    """
    return _hmac_hex(app_key, f"{uri}&{body}")


def user_signature(session_key: str, body: str) -> str:
    """The user-state ``signature`` of ``body``, keyed by the session_key text.

    >>> user_signature("9hAb/NEYUlkaMBEsmFgzig==",
    ...                '{"openid": "xxx", "user_ip": "127.0.0.1", "env": 0}')[:16]
    '089d9e8dc5d30897'
    """
    return _hmac_hex(session_key, body)


def _check_values(value: object, path: str) -> None:
    # Amounts are integer fen: a float anywhere in signData is a bug upstream, not a price.
    if isinstance(value, float):
        raise MalformedInput(f"signData {path} is a float; amounts are integer fen", field=path)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_values(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_values(item, f"{path}[{index}]")


def virtual_payment_params(
    *, sign_data: Mapping[str, object], app_key: str, session_key: str, mode: Mode
) -> dict[str, str]:
    """Everything ``wx.requestVirtualPayment`` needs but ``success``/``fail``.

    Returns ``{signData, paySig, signature, mode}``, where ``signData`` is compact JSON in the
    mapping's key order, exactly the string both signatures cover.

    >>> params = virtual_payment_params(
    ...     sign_data={"offerId": "123", "buyQuantity": 1, "env": 0, "currencyType": "CNY",
    ...                "outTradeNo": "o1", "attach": "a"},
    ...     app_key="12345", session_key="9hAb/NEYUlkaMBEsmFgzig==", mode="short_series_coin")
    >>> params["signData"]
    '{"offerId":"123","buyQuantity":1,"env":0,"currencyType":"CNY","outTradeNo":"o1","attach":"a"}'
    """
    if mode not in ("short_series_goods", "short_series_coin"):
        raise MalformedInput(f"virtual payment mode {mode!r} is unknown", field="mode")
    required = _REQUIRED + (_GOODS_REQUIRED if mode == "short_series_goods" else ())
    for name in required:
        if name not in sign_data:
            raise MalformedInput(f"signData needs {name}", field=name)
    _check_values(sign_data, "signData")
    try:
        text = json.dumps(dict(sign_data), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise MalformedInput(f"signData cannot be JSON: {exc}") from exc
    return {
        "signData": text,
        "paySig": pay_sig(app_key, CLIENT_URI, text),
        "signature": user_signature(session_key, text),
        "mode": mode,
    }
