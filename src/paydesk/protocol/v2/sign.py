"""Pay v2 signatures: MD5 or HMAC-SHA256 over sorted ``k=v`` pairs (PROTOCOL.md §2.1).

Every v2 request, response and payment notification carries ``sign``: take every non-empty
parameter except ``sign``, sort by name (ASCII, case-sensitive), join as ``k=v`` with ``&``
(raw values, no URL encoding), append ``&key=<APIv2 key>``, then MD5 or HMAC-SHA256 (keyed
with the same APIv2 key), uppercase hex
(https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3).

The algorithm is always *pinned by the caller* from the merchant's config. A body that names a
different ``sign_type`` is refused rather than obeyed: letting the sender pick was the bug in
WeChat's own Java SDK (wxpay/WXPay-SDK-Java#1; reliability note 2.6).

>>> params = {"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
...           "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
>>> sign_v2(params, "192006250b4c09247ec02edce69f6a2d", "MD5")
'9A0A8659F005D6984697E2CA0A9CF3B7'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal, TypeAlias

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, UnsupportedSignatureType

__all__ = [
    "SIGN_TYPES",
    "SignType",
    "check_sign_type",
    "sign_v2",
    "string_to_sign",
    "verify_signature_field",
    "verify_v2",
]

#: The two v2 signature algorithms, spelled as WeChat spells them in ``sign_type``.
SignType: TypeAlias = Literal["MD5", "HMAC-SHA256"]
#: Every accepted :data:`SignType` value, for run-time checks of config input.
SIGN_TYPES: tuple[SignType, ...] = ("MD5", "HMAC-SHA256")


def check_sign_type(sign_type: str) -> SignType:
    """Return ``sign_type`` as a :data:`SignType`, or raise ``UnsupportedSignatureType``.

    >>> check_sign_type("HMAC-SHA256")
    'HMAC-SHA256'
    """
    if sign_type == "MD5":
        return "MD5"
    if sign_type == "HMAC-SHA256":
        return "HMAC-SHA256"
    raise UnsupportedSignatureType(f"v2 sign_type {sign_type!r} is not MD5 or HMAC-SHA256")


def _string_to_sign(params: Mapping[str, object], signature_field: str) -> str:
    return "&".join(
        [
            f"{name}={value}"
            for name, value in sorted(params.items())
            if name != signature_field and value is not None and value != ""
        ]
    )


def string_to_sign(params: Mapping[str, object]) -> str:
    """The ``stringA`` of the v2 rules: ``sign`` and empty values dropped, ``k=v`` sorted.

    ``None`` and ``""`` count as empty; ``0`` does not.

    >>> string_to_sign({"b": "2", "a": 1, "sign": "X", "c": "", "d": 0})
    'a=1&b=2&d=0'
    """
    return _string_to_sign(params, "sign")


def _digest(string_a: str, key: str, sign_type: SignType) -> str:
    try:
        message = f"{string_a}&key={key}".encode() if string_a else f"key={key}".encode()
        secret = key.encode()
    except UnicodeEncodeError as exc:
        raise MalformedInput("v2 parameters or key are not valid UTF-8 text") from exc
    if sign_type == "MD5":
        return hashlib.md5(message).hexdigest().upper()  # noqa: S324 - WeChat's v2 algorithm
    return hmac.new(secret, message, hashlib.sha256).hexdigest().upper()


def sign_v2(params: Mapping[str, object], key: str, sign_type: SignType) -> str:
    """The uppercase-hex v2 ``sign`` of ``params`` under the APIv2 ``key``.

    >>> sign_v2({"a": "1"}, "k", "HMAC-SHA256")[:16]
    '598633A0305F32A6'
    """
    return _digest(string_to_sign(params), key, check_sign_type(sign_type))


def verify_signature_field(
    params: Mapping[str, object],
    key: str,
    sign_type: SignType,
    *,
    signature_field: str,
) -> None:
    """Like :func:`verify_v2`, for a signature kept in another field (``paySign``).

    The algorithm is taken as given: checking a ``sign_type``/``signType`` field against it
    is the caller's job.

    >>> params = {"a": "1", "paySign": sign_v2({"a": "1"}, "k", "MD5")}
    >>> verify_signature_field(params, "k", "MD5", signature_field="paySign")
    """
    pinned = check_sign_type(sign_type)
    string_a = _string_to_sign(params, signature_field)
    received = params.get(signature_field)
    if not isinstance(received, str) or not received:
        raise SignatureMismatch(
            f"v2 {signature_field} is missing", message=string_a.encode("utf-8", "replace")
        )
    expected = _digest(string_a, key, pinned)
    if not hmac.compare_digest(expected.encode(), received.encode("utf-8", "replace")):
        raise SignatureMismatch(
            f"v2 {signature_field} does not match ({pinned})",
            message=string_a.encode("utf-8", "replace"),
            header=received,
        )


def verify_v2(params: Mapping[str, object], key: str, sign_type: SignType) -> None:
    """Check ``params["sign"]`` in constant time, with the algorithm the merchant config pins.

    Raises ``UnsupportedSignatureType`` when ``params`` carries a ``sign_type`` that differs
    from ``sign_type``, and ``SignatureMismatch`` when the signature is missing or wrong; its
    ``message`` is the string that was signed (without the key), ``header`` the received sign.

    >>> fields = {"return_code": "SUCCESS", "nonce_str": "n"}
    >>> verify_v2({**fields, "sign": sign_v2(fields, "k", "MD5")}, "k", "MD5")
    >>> try:
    ...     verify_v2({**fields, "sign_type": "MD5"}, "k", "HMAC-SHA256")
    ... except UnsupportedSignatureType as exc:
    ...     print(exc)
    body says sign_type 'MD5', merchant config pins HMAC-SHA256
    """
    pinned = check_sign_type(sign_type)
    claimed = params.get("sign_type")
    if claimed is not None and claimed != "" and claimed != pinned:
        raise UnsupportedSignatureType(
            f"body says sign_type {claimed!r}, merchant config pins {pinned}"
        )
    verify_signature_field(params, key, pinned, signature_field="sign")
