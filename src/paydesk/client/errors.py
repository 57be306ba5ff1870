"""Every error the client raises, in one tree, named for what the caller should do.

::

    WeChatError                     base class; catch this to catch everything below
    ├── WeChatApiError              WeChat answered with an error code (.status, .code, …)
    │   ├── InvalidRequest          400 and other 4xx: fix the request; resending won't help
    │   │   └── Refused             403: valid, but WeChat's rules say no (ORDER_PAID…)
    │   ├── AuthenticationFailed    401 SIGN_ERROR / v2 SIGNERROR: our keys, serial or clock
    │   ├── NotFound                404 / v2 ORDERNOTEXIST: no such order or refund
    │   ├── RateLimited             429 / v2 FREQUENCY_LIMITED: slow down, then retry
    │   ├── UpstreamUnavailable     5xx / v2 SYSTEMERROR: retry the same bytes (done for you)
    │   └── ApiError                {"errcode", "errmsg"} of api.weixin.qq.com (.errcode)
    │       ├── LoginError          40029, 40163, 42003…: the code is wrong or spent
    │       └── AccessTokenRejected 40001, 40014, 42001: refresh the token (done once)
    ├── ResponseNotVerified         a 2xx whose signature or hash fails: never use its data
    ├── TransportFailed             nothing reached WeChat: safe to retry, even a create
    └── OutcomeUnknown              sent, but no answer: QUERY before anything else
        └── UnexpectedResponse      a verified 2xx whose body is not what the API documents

Every error carries ``status``, ``code``, ``message``, ``detail``, ``request_id`` and the raw
``body`` when WeChat sent one, and says whether it is ``retryable``::

    >>> err = RateLimited("频率超限", status=429, code="FREQUENCY_LIMITED", request_id="08F0")
    >>> str(err), err.retryable
    ('Request 08F0: [FREQUENCY_LIMITED] 频率超限', True)

Foreign errors (httpx's, the protocol layer's) are mapped into this tree once, at the boundary,
with ``raise … from exc``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessTokenRejected",
    "ApiError",
    "AuthenticationFailed",
    "InvalidRequest",
    "LoginError",
    "NotFound",
    "OutcomeUnknown",
    "RateLimited",
    "Refused",
    "ResponseNotVerified",
    "TransportFailed",
    "UnexpectedResponse",
    "UpstreamUnavailable",
    "WeChatApiError",
    "WeChatError",
]


class WeChatError(Exception):
    """Base class of every client error.

    ``retryable`` says whether sending the *same* request again may succeed; each class sets
    its default and a caller-visible instance may override it.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: Any = None,
        request_id: str | None = None,
        body: bytes = b"",
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.body = body
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}" if self.code else self.message
        return f"Request {self.request_id}: {text}" if self.request_id else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, request_id={self.request_id!r})"
        )


class WeChatApiError(WeChatError):
    """WeChat answered, and the answer is an error code (v3 ``code``, v2 ``err_code``…)."""


class InvalidRequest(WeChatApiError):
    """WeChat refused the request as malformed (400 ``PARAM_ERROR``, ``INVALID_REQUEST``…)."""


class Refused(InvalidRequest):
    """A well-formed request that WeChat's rules refuse (403: ``OUT_TRADE_NO_USED``,
    ``NOT_ENOUGH``, ``ORDER_PAID``…); sending it again gives the same answer."""


class AuthenticationFailed(WeChatApiError):
    """401 ``SIGN_ERROR``: our private key, certificate serial or clock is wrong."""


class NotFound(WeChatApiError):
    """404: WeChat has no such order or refund (``ORDER_NOT_EXIST``, ``RESOURCE_NOT_EXISTS``)."""


class RateLimited(WeChatApiError):
    """429 ``FREQUENCY_LIMITED``: back off, then retry."""

    default_retryable = True


class UpstreamUnavailable(WeChatApiError):
    """5xx ``SYSTEM_ERROR``/``BANK_ERROR``: WeChat's side failed; retry with the same bytes."""

    default_retryable = True


class ApiError(WeChatApiError):
    """An ``{"errcode", "errmsg"}`` answer from api.weixin.qq.com (login, tokens, messages).

    >>> ApiError("invalid openid", errcode=40003).code
    '40003'
    """

    def __init__(self, message: str, *, errcode: int, **kwargs: Any) -> None:
        kwargs.setdefault("code", str(errcode))
        super().__init__(message, **kwargs)
        self.errcode = errcode


class LoginError(ApiError):
    """The login or OAuth code is invalid, used or expired: the user must log in again."""


class AccessTokenRejected(ApiError):
    """The access token is invalid, not the latest, or expired: fetch a new one."""


class ResponseNotVerified(WeChatError):
    """A 2xx whose ``Wechatpay-Signature`` (or bill hash) does not verify: never use its data.

    ``__cause__`` is the protocol layer's signature error, with its evidence.
    """


class TransportFailed(WeChatError):
    """The request never reached WeChat (connect error or timeout, pool timeout): safe to retry."""

    default_retryable = True


class OutcomeUnknown(WeChatError):
    """The request was sent but no answer came (read timeout, dropped connection, deadline).

    WeChat may or may not have acted on it: QUERY (by ``out_trade_no``, ``out_refund_no``)
    before anything else; never create again under a new number.
    """


class UnexpectedResponse(OutcomeUnknown):
    """WeChat answered 2xx with a verified body that is not what the API documents."""
