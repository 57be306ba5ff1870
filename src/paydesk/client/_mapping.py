"""WeChat's error answers → the client's error tree: one table per API family.

Three families answer differently (PROTOCOL.md §1.9, §2.2, §4):

- Pay v3: an HTTP status plus ``{"code", "message", "detail"}``;
- Pay v2: always HTTP 200, ``return_code`` for the call and ``result_code`` + ``err_code`` for
  the business;
- the open APIs (login, tokens, OAuth, messages): HTTP 200 with ``{"errcode", "errmsg"}``.

>>> type(v3_error(404, b'{"code":"ORDER_NOT_EXIST","message":"no order"}', None)).__name__
'NotFound'
>>> type(v2_error({"return_code": "SUCCESS", "result_code": "FAIL",
...                "err_code": "ORDERPAID"}, None, b"")).__name__
'Refused'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from paydesk.client.errors import (
    AccessTokenRejected,
    ApiError,
    AuthenticationFailed,
    InvalidRequest,
    LoginError,
    NotFound,
    RateLimited,
    Refused,
    UpstreamUnavailable,
    WeChatApiError,
)

__all__ = ["errcode_error", "request_id_of", "status_error_class", "v2_error", "v3_error"]

# 500 is not always "try again": these two codes are the caller's mistake
# (vectors/v3_error_codes.json, JSAPI table).
_V3_CALLER_ERRORS_AT_500 = frozenset({"INVALID_TRANSACTIONID", "OPENID_MISMATCH"})

# Business refusals that WeChat answers with 400 rather than 403: ORDER_CLOSED is 400 in the
# JSAPI table, and ORDER_PAID's status is undocumented (PROTOCOL.md §1.9).
_V3_REFUSALS = frozenset({"ORDER_CLOSED", "ORDER_PAID"})

# v2 business err_code → class (PROTOCOL.md §2.2); anything unlisted is an InvalidRequest.
_V2_ERR_CODES: Mapping[str, type[WeChatApiError]] = {
    "SYSTEMERROR": UpstreamUnavailable,
    "BIZERR_NEED_RETRY": UpstreamUnavailable,
    "ORDERNOTEXIST": NotFound,
    "REFUNDNOTEXIST": NotFound,
    "FREQUENCY_LIMITED": RateLimited,
    "INVALID_REQ_TOO_MUCH": RateLimited,
    "SIGNERROR": AuthenticationFailed,
    "NOAUTH": Refused,
    "NOTENOUGH": Refused,
    "ORDERPAID": Refused,
    "ORDERCLOSED": Refused,
    "OUT_TRADE_NO_USED": Refused,
    "TRADE_OVERDUE": Refused,
    "TRADE_STATE_ERROR": Refused,
    "USER_ACCOUNT_ABNORMAL": Refused,
}

# Open-API errcodes with a class of their own (PROTOCOL.md §4.1, §4.2, §4.5).
_LOGIN_ERRCODES = frozenset({40029, 40163, 42003, 40226})
_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# -1: "system busy, retry"; 45011: per-minute quota, "retry next minute".
_RETRYABLE_ERRCODES = frozenset({-1, 45011})

# errmsg ends in ", rid: 6489a0b0-1e2b3c4d-5f6a7b8c" (PROTOCOL.md §4.1).
_RID = re.compile(r"rid:\s*([0-9A-Za-z-]+)")


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The ``Request-ID`` header (any case), if WeChat sent one.

    >>> request_id_of({"request-id": "08F0"})
    '08F0'
    """
    for name, value in headers.items():
        if name.lower() == "request-id":
            return value
    return None


def status_error_class(status: int) -> type[WeChatApiError]:
    """The class for an HTTP error status, whatever the body says.

    >>> [status_error_class(s).__name__ for s in (400, 401, 403, 404, 429, 503)]
    ['InvalidRequest', 'AuthenticationFailed', 'Refused', 'NotFound', 'RateLimited', \
'UpstreamUnavailable']
    """
    if status >= 500:
        return UpstreamUnavailable
    return {401: AuthenticationFailed, 403: Refused, 404: NotFound, 429: RateLimited}.get(
        status, InvalidRequest
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _excerpt(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace")


def v3_error(status: int, body: bytes, request_id: str | None) -> WeChatApiError:
    """The error for a non-2xx Pay v3 answer; a body that is not WeChat's shape still maps.

    >>> v3_error(500, b'{"code":"OPENID_MISMATCH","message":"x"}', "r1").retryable
    False
    """
    payload = _json_object(body)
    code = payload.get("code")
    code = code if isinstance(code, str) and code else f"HTTP_{status}"
    message = payload.get("message")
    message = message if isinstance(message, str) else _excerpt(body)
    cls = status_error_class(status)
    if cls is UpstreamUnavailable and code in _V3_CALLER_ERRORS_AT_500:
        cls = InvalidRequest
    elif cls is InvalidRequest and code in _V3_REFUSALS:
        cls = Refused
    return cls(
        message,
        status=status,
        code=code,
        detail=payload.get("detail"),
        request_id=request_id,
        body=body,
    )


def v2_error(fields: Mapping[str, str], status: int | None, body: bytes) -> WeChatApiError:
    """The error for a v2 answer whose ``return_code`` or ``result_code`` is not ``SUCCESS``.

    ``return_code=FAIL`` means the call itself was refused; WeChat then says only
    ``return_msg`` (``签名错误`` for a bad signature).

    >>> v2_error({"return_code": "FAIL", "return_msg": "签名错误"}, 200, b"").code
    'SIGNERROR'
    """
    if fields.get("return_code") != "SUCCESS":
        message = fields.get("return_msg") or "return_code FAIL"
        if "签名" in message or "sign" in message.lower():
            return AuthenticationFailed(message, status=status, code="SIGNERROR", body=body)
        return InvalidRequest(message, status=status, code="FAIL", body=body)
    code = fields.get("err_code") or "FAIL"
    message = fields.get("err_code_des") or fields.get("result_msg") or code
    cls = _V2_ERR_CODES.get(code, InvalidRequest)
    return cls(message, status=status, code=code, body=body)


def errcode_error(payload: Mapping[str, Any], status: int, body: bytes) -> ApiError:
    """The error for an open-API answer with a non-zero ``errcode``.

    >>> err = errcode_error({"errcode": 40163, "errmsg": "code been used, rid: 6489-a0b0"},
    ...                     200, b"")
    >>> type(err).__name__, err.errcode, err.request_id
    ('LoginError', 40163, '6489-a0b0')
    """
    errcode = int(payload["errcode"])
    message = str(payload.get("errmsg") or f"errcode {errcode}")
    match = _RID.search(message)
    cls: type[ApiError] = ApiError
    if errcode in _LOGIN_ERRCODES:
        cls = LoginError
    elif errcode in _TOKEN_ERRCODES:
        cls = AccessTokenRejected
    return cls(
        message,
        errcode=errcode,
        status=status,
        request_id=match.group(1) if match else None,
        body=body,
        retryable=errcode in _RETRYABLE_ERRCODES,
    )
