"""Official-account OAuth for the JSAPI road: who is paying, for the account that takes the money.

The ``state`` of each authorize redirect is random, **bound to this browser** and **used once**:

* :func:`start_oauth` stores the state in the cache (``cashier:oauth:<state>`` → the order and
  app, ten minutes) and returns a signed cookie value carrying the same state;
* :func:`finish_oauth` accepts the callback only if the query's ``state`` equals the cookie's
  (constant-time) *and* the cache still holds it — taken, i.e. read and deleted in one step,
  so a replayed callback finds nothing.

Anything wrong — no cookie, another browser's state, a state already used or expired, a code
WeChat says is used, invalid or expired (40163 / 40029 / 42003), a refusal — is not an error
for the shopper: the answer is :class:`StartOver`, and the page sends the browser through a
fresh authorize redirect (reliability note 2.8 of PROTOCOL.md §4.5;
https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html).

The callback is always our own path (``/pay/{token}/oauth``): nothing the browser sends
decides where it is sent next.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from paydesk.client import LoginError, WeChatError
from paydesk.domain.cashier.hosts import authorize_host
from paydesk.domain.errors import Unauthenticated
from paydesk.domain.payments.remote import upstream
from paydesk.domain.tokens import sign_token, verify_token
from paydesk.protocol.oauth import Scope, authorize_url

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = [
    "STATE_COOKIE",
    "STATE_TTL",
    "Identified",
    "OAuthStart",
    "StartOver",
    "finish_oauth",
    "start_oauth",
]

#: The cookie that binds a state to the browser (HttpOnly, SameSite=Lax, path ``/pay``).
STATE_COOKIE = "paydesk_oauth"
#: How long an authorize round trip may take.
STATE_TTL = timedelta(minutes=10)
_PURPOSE = "cashier-oauth"
_KEY = "cashier:oauth:"


@dataclass(frozen=True)
class OAuthStart:
    """Where to send the browser, and the cookie to set on the way."""

    authorize_url: str
    cookie: str
    state: str
    max_age: int


@dataclass(frozen=True)
class Identified:
    """The callback checked out: the payer's openid for ``appid``."""

    appid: str
    openid: str


@dataclass(frozen=True)
class StartOver:
    """The callback cannot be used; ``reason`` is for logs and tests, never for the shopper."""

    reason: str


async def start_oauth(
    services: Services,
    *,
    order_id: str,
    appid: str,
    callback_url: str,
    scope: Scope = "snsapi_base",
) -> OAuthStart:
    """A fresh single-use state for ``order_id`` and the authorize URL that carries it."""
    state = services.ids.token(20)  # 32 characters of [0-9A-Z]: what WeChat allows in a state
    ttl = int(STATE_TTL.total_seconds())
    await services.cache.values.set(_KEY + state, {"order": order_id, "appid": appid}, ttl=ttl)
    cookie = sign_token(
        services.secret_key, _PURPOSE, {"state": state}, expires_at=services.clock.now() + STATE_TTL
    )
    url = authorize_url(
        appid=appid,
        redirect_uri=callback_url,
        scope=scope,
        state=state,
        host=authorize_host(services),
    )
    return OAuthStart(authorize_url=url, cookie=cookie, state=state, max_age=ttl)


async def finish_oauth(
    services: Services,
    *,
    order_id: str,
    state: str | None,
    code: str | None,
    cookie: str | None,
) -> Identified | StartOver:
    """Check the callback and trade its code for the openid (see the module docstring).

    Raises UpstreamFailed only when WeChat could not answer at all (the page offers a retry).
    """
    if not state or not cookie:
        return StartOver("no_state" if not state else "no_cookie")
    try:
        bound = verify_token(services.secret_key, _PURPOSE, cookie, now=services.clock.now())
    except Unauthenticated:
        return StartOver("bad_cookie")
    if not hmac.compare_digest(str(bound.get("state", "")).encode(), state.encode()):
        return StartOver("other_browser")
    record = await services.cache.values.take(_KEY + state)
    if not isinstance(record, dict) or record.get("order") != order_id:
        return StartOver("state_used_or_expired" if record is None else "other_order")
    appid = record.get("appid")
    if not code or not isinstance(appid, str):
        return StartOver("refused")
    try:
        token = await services.wechat.oauth.exchange_code(services.wechat.app(appid), code)
    except LoginError:
        return StartOver("code_rejected")
    except WeChatError as exc:
        raise upstream(exc) from exc
    return Identified(appid=appid, openid=token.openid)
