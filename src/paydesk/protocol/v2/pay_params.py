"""The v2 "second signature": what a page or app hands to WeChat's client to pay a prepay id.

After ``/pay/unifiedorder`` returns ``prepay_id``, the merchant signs a small parameter set
with the same v2 algorithm and key (PROTOCOL.md §2.4):

- JSAPI and mini program (``WeixinJSBridge`` ``getBrandWCPayRequest`` / ``wx.requestPayment``):
  ``appId, timeStamp, nonceStr, package="prepay_id=…", signType`` → ``paySign``
  (https://pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=7_7&index=5);
- APP (OpenSDK ``PayReq``): ``appid, partnerid, prepayid, package="Sign=WXPay", noncestr,
  timestamp`` → ``sign`` (note the different casing).

``timeStamp`` travels as a string of Unix seconds, and ``signType`` must be the sign type of
the unified order.

>>> params = jsapi_pay_params_v2(appid="wxd678efh567hg6787",
...     prepay_id="wx2017033010242291fcfe0db70013231072", key="qazwsxedcrfvtgbyhnujmikolp111111",
...     sign_type="MD5", timestamp=1490840662, nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
>>> params["paySign"]
'22D9B4E54AB1950F51E0649E8810ACD6'
>>> verify_pay_sign_v2(params, "qazwsxedcrfvtgbyhnujmikolp111111", "MD5")
"""

from __future__ import annotations

from collections.abc import Mapping

from paydesk.protocol.errors import MalformedInput, UnsupportedSignatureType
from paydesk.protocol.v2.sign import SignType, check_sign_type, sign_v2, verify_signature_field

__all__ = [
    "APP_FIELDS",
    "JSAPI_FIELDS",
    "app_pay_params_v2",
    "jsapi_pay_params_v2",
    "prepay_id_of",
    "verify_pay_sign_v2",
]

#: The signed fields of JSAPI / mini-program pay parameters (``paySign`` signs them).
JSAPI_FIELDS = ("appId", "timeStamp", "nonceStr", "package", "signType")
#: The signed fields of APP pay parameters (``sign`` signs them).
APP_FIELDS = ("appid", "partnerid", "prepayid", "package", "noncestr", "timestamp")

_PACKAGE_PREFIX = "prepay_id="
_APP_PACKAGE = "Sign=WXPay"


def _bare_prepay_id(prepay_id: str) -> str:
    if not prepay_id or prepay_id.startswith(_PACKAGE_PREFIX):
        raise MalformedInput("pass the bare prepay_id, without 'prepay_id='", field="prepay_id")
    return prepay_id


def jsapi_pay_params_v2(
    *, appid: str, prepay_id: str, key: str, sign_type: SignType, timestamp: int, nonce: str
) -> dict[str, str]:
    """Parameters for ``wx.requestPayment`` / ``getBrandWCPayRequest`` under Pay v2.

    Returns ``{appId, timeStamp, nonceStr, package, signType, paySign}``; ``timestamp`` and
    ``nonce`` come from the caller's clock and nonce source.

    >>> jsapi_pay_params_v2(appid="wx1", prepay_id="wx2", key="k", sign_type="MD5",
    ...                     timestamp=1, nonce="n")["package"]
    'prepay_id=wx2'
    """
    params = {
        "appId": appid,
        "timeStamp": str(timestamp),
        "nonceStr": nonce,
        "package": _PACKAGE_PREFIX + _bare_prepay_id(prepay_id),
        "signType": check_sign_type(sign_type),
    }
    return {**params, "paySign": sign_v2(params, key, sign_type)}


def app_pay_params_v2(
    *,
    appid: str,
    mchid: str,
    prepay_id: str,
    key: str,
    sign_type: SignType,
    timestamp: int,
    nonce: str,
) -> dict[str, str]:
    """Parameters for the APP OpenSDK ``PayReq`` under Pay v2.

    Returns ``{appid, partnerid, prepayid, package: "Sign=WXPay", noncestr, timestamp, sign}``.

    >>> app_pay_params_v2(appid="wx1", mchid="1900000109", prepay_id="wx2", key="k",
    ...                   sign_type="MD5", timestamp=1, nonce="n")["partnerid"]
    '1900000109'
    """
    params = {
        "appid": appid,
        "partnerid": mchid,
        "prepayid": _bare_prepay_id(prepay_id),
        "package": _APP_PACKAGE,
        "noncestr": nonce,
        "timestamp": str(timestamp),
    }
    return {**params, "sign": sign_v2(params, key, sign_type)}


def _require(params: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    picked: dict[str, str] = {}
    for name in names:
        value = params.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedInput(f"pay parameter {name} is missing", field=name)
        picked[name] = value
    return picked


def verify_pay_sign_v2(params: Mapping[str, str], key: str, sign_type: SignType) -> None:
    """Check pay parameters the way WeChat's client does (the sandbox payer uses this).

    JSAPI parameters are recognised by ``paySign``, APP ones by ``sign``. Only the documented
    fields are signed; a missing one is ``MalformedInput``, a ``signType`` other than the
    merchant's pinned ``sign_type`` is ``UnsupportedSignatureType``, a wrong signature is
    ``SignatureMismatch``.

    >>> app = app_pay_params_v2(appid="wx1", mchid="1", prepay_id="wx2", key="k",
    ...                         sign_type="MD5", timestamp=1, nonce="n")
    >>> verify_pay_sign_v2(app, "k", "MD5")
    """
    pinned = check_sign_type(sign_type)
    if "paySign" in params:
        signed = _require(params, (*JSAPI_FIELDS, "paySign"))
        if signed["signType"] != pinned:
            raise UnsupportedSignatureType(
                f"signType {signed['signType']!r} is not the merchant's {pinned}",
                header=signed["paySign"],
            )
        verify_signature_field(signed, key, pinned, signature_field="paySign")
    else:
        signed = _require(params, (*APP_FIELDS, "sign"))
        if signed["package"] != _APP_PACKAGE:
            raise MalformedInput(f"APP package must be {_APP_PACKAGE!r}", field="package")
        verify_signature_field(signed, key, pinned, signature_field="sign")


def prepay_id_of(params: Mapping[str, str]) -> str:
    """The prepay id that JSAPI or APP pay parameters point at.

    >>> prepay_id_of({"package": "prepay_id=wx2"})
    'wx2'
    >>> prepay_id_of({"prepayid": "wx3", "package": "Sign=WXPay"})
    'wx3'
    """
    package = params.get("package", "")
    if package.startswith(_PACKAGE_PREFIX) and len(package) > len(_PACKAGE_PREFIX):
        return package.removeprefix(_PACKAGE_PREFIX)
    return _require(params, ("prepayid",))["prepayid"]
