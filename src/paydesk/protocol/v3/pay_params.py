"""The second signature: parameters that open WeChat's pay sheet (PROTOCOL.md §1.10).

After prepay the merchant signs, with its API private key (SHA256withRSA):

- mini program ``wx.requestPayment`` and JSAPI ``WeixinJSBridge.invoke('getBrandWCPayRequest')``:
  ``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` with ``package = "prepay_id=…"``;
- APP (OpenSDK ``PayReq``): ``appid\\ntimestamp\\nnoncestr\\nprepayid\\n`` (bare prepay id).

The sandbox payer checks these with :func:`verify_pay_sign`, as WeChat's client does.

>>> jsapi_message("wx2421b1c4370ec43b", 1554208460, "N", "wx2014")
b'wx2421b1c4370ec43b\\n1554208460\\nN\\nprepay_id=wx2014\\n'
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, UnsupportedSignatureType
from paydesk.protocol.v3.signing import rsa_sign, rsa_verify

__all__ = [
    "APP_PACKAGE",
    "SIGN_TYPE",
    "app_message",
    "app_pay_params",
    "jsapi_message",
    "jsapi_pay_params",
    "miniprogram_pay_params",
    "verify_pay_sign",
]

#: ``signType`` for APIv3 pay parameters (v2 uses MD5 / HMAC-SHA256 instead).
SIGN_TYPE = "RSA"
#: The fixed ``package`` value of APP payments.
APP_PACKAGE = "Sign=WXPay"


def _lines(*parts: str) -> bytes:
    return "".join(part + "\n" for part in parts).encode("utf-8")


def jsapi_message(appid: str, timestamp: int | str, nonce: str, prepay_id: str) -> bytes:
    """The bytes ``paySign`` covers for mini programs and JSAPI."""
    return _lines(appid, str(timestamp), nonce, f"prepay_id={prepay_id}")


def app_message(appid: str, timestamp: int | str, nonce: str, prepay_id: str) -> bytes:
    """The bytes ``sign`` covers for APP payments (bare prepay id).

    >>> app_message("wx1", 1, "N", "wx2014")
    b'wx1\\n1\\nN\\nwx2014\\n'
    """
    return _lines(appid, str(timestamp), nonce, prepay_id)


def miniprogram_pay_params(
    *, appid: str, prepay_id: str, private_key: RSAPrivateKey, timestamp: int, nonce: str
) -> dict[str, str]:
    """``wx.requestPayment`` / ``getBrandWCPayRequest`` parameters, signed.

    Keys: ``appId, timeStamp, nonceStr, package, signType, paySign`` (``wx.requestPayment``
    ignores ``appId``; ``WeixinJSBridge`` needs it). ``timeStamp`` is a string of seconds.
    """
    return {
        "appId": appid,
        "timeStamp": str(timestamp),
        "nonceStr": nonce,
        "package": f"prepay_id={prepay_id}",
        "signType": SIGN_TYPE,
        "paySign": rsa_sign(private_key, jsapi_message(appid, timestamp, nonce, prepay_id)),
    }


#: JSAPI (official-account pages) takes exactly the mini-program parameters.
jsapi_pay_params = miniprogram_pay_params


def app_pay_params(
    *,
    appid: str,
    mchid: str,
    prepay_id: str,
    private_key: RSAPrivateKey,
    timestamp: int,
    nonce: str,
) -> dict[str, str]:
    """OpenSDK ``PayReq`` parameters for APP payments, signed.

    Keys: ``appid, partnerid (= mchid), prepayid, package ("Sign=WXPay"), noncestr,
    timestamp, sign``.
    """
    return {
        "appid": appid,
        "partnerid": mchid,
        "prepayid": prepay_id,
        "package": APP_PACKAGE,
        "noncestr": nonce,
        "timestamp": str(timestamp),
        "sign": rsa_sign(private_key, app_message(appid, timestamp, nonce, prepay_id)),
    }


def _need(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise MalformedInput(f"pay parameter {name} is missing", field=name)
    return value


def verify_pay_sign(params: Mapping[str, str], public_key: RSAPublicKey) -> None:
    """Check pay parameters as WeChat's client would; return quietly when they hold.

    Mini program / JSAPI parameters are recognised by ``paySign``, APP ones by ``sign``.
    :class:`UnsupportedSignatureType` unless ``signType`` is ``RSA`` (and APP ``package`` is
    ``Sign=WXPay``), :class:`SignatureMismatch` when the signature does not hold.

    >>> verify_pay_sign({"appid": "wx1"}, None)
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.MalformedInput: neither paySign nor sign: not pay parameters
    """
    if "paySign" in params:
        signature = _need(params, "paySign")
        if params.get("signType") != SIGN_TYPE:
            raise UnsupportedSignatureType(
                f"signType {params.get('signType')!r} is not RSA", header=signature
            )
        package = _need(params, "package")
        if not package.startswith("prepay_id="):
            raise MalformedInput("package must be prepay_id=…", field="package")
        message = _lines(
            _need(params, "appId"), _need(params, "timeStamp"), _need(params, "nonceStr"), package
        )
    elif "sign" in params:
        signature = _need(params, "sign")
        if params.get("package") != APP_PACKAGE:
            raise UnsupportedSignatureType("APP package must be Sign=WXPay", header=signature)
        message = app_message(
            _need(params, "appid"),
            _need(params, "timestamp"),
            _need(params, "noncestr"),
            _need(params, "prepayid"),
        )
    else:
        raise MalformedInput("neither paySign nor sign: not pay parameters", field="paySign")
    if not rsa_verify(public_key, message, signature):
        raise SignatureMismatch("pay signature does not match", message=message, header=signature)
