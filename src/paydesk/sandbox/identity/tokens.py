"""Access tokens: ``GET /cgi-bin/token`` and ``POST /cgi-bin/stable_token`` (PROTOCOL.md §4.2).

- ``/cgi-bin/token`` issues a new token on every call; the previous one keeps working for five
  more minutes, then answers 40001 ("not latest").
- ``/cgi-bin/stable_token`` returns the same token while it has more than five minutes to live;
  ``force_refresh`` retires the old one at once. The two kinds never affect each other.
- Both live 7200 s of virtual time; an expired token answers 42001.

    >>> from datetime import datetime, timezone
    >>> import random
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> tokens = AccessTokens(random.Random(5))
    >>> first = tokens.issue("wxA", t0)
    >>> tokens.check(first.token, t0)
    'wxA'
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from paydesk.sandbox.identity.codes import forget_expired
from paydesk.sandbox.identity.wxapi import (
    WxError,
    check_app_secret,
    read_limited,
    require_grant_type,
    wx_route,
)

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
TOKEN_LENGTH = 136
TOKEN_LIFETIME = timedelta(seconds=7200)
#: After a new ``/cgi-bin/token``, the previous token still works this long.
OVERLAP = timedelta(minutes=5)
#: ``stable_token`` hands out a new token once the current one has less than this to live.
STABLE_RENEW_BEFORE = timedelta(minutes=5)
#: Expired tokens are remembered this long (42001), then forgotten (40001).
KEEP_EXPIRED = timedelta(days=1)
MAX_STABLE_BODY = 4096

TokenKind = Literal["token", "stable"]


@dataclass(frozen=True)
class AccessToken:
    """One issued token. After ``retired_at`` it is "not latest" (40001)."""

    token: str
    appid: str
    kind: TokenKind
    expires_at: datetime
    retired_at: datetime | None = None

    def expires_in(self, now: datetime) -> int:
        """Whole seconds left, as ``expires_in`` reports them."""
        return max(0, int((self.expires_at - now).total_seconds()))


@dataclass
class AccessTokens:
    """Every access token of every app, both kinds."""

    rng: random.Random
    _tokens: dict[str, AccessToken] = field(default_factory=dict)
    _latest: dict[tuple[str, TokenKind], str] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget every token."""
        self._tokens.clear()
        self._latest.clear()

    def issue(self, appid: str, now: datetime) -> AccessToken:
        """``/cgi-bin/token``: a new token; the previous one retires in five minutes."""
        previous = self._current(appid, "token")
        if previous is not None and previous.retired_at is None:
            self._tokens[previous.token] = replace(previous, retired_at=now + OVERLAP)
        return self._new(appid, "token", now)

    def stable(self, appid: str, now: datetime, *, force_refresh: bool) -> AccessToken:
        """``/cgi-bin/stable_token``: the current token, or a new one when forced or when the
        current one is about to expire (then the old one lives out its time)."""
        current = self._current(appid, "stable")
        if current is not None and force_refresh:
            self._tokens[current.token] = replace(current, retired_at=now)
        elif current is not None and now < current.expires_at - STABLE_RENEW_BEFORE:
            return current
        return self._new(appid, "stable", now)

    def check(self, token: str, now: datetime) -> str:
        """The appid ``token`` belongs to; 40001 unknown or retired, 42001 expired."""
        issued = self._tokens.get(token)
        if issued is None or (issued.retired_at is not None and now >= issued.retired_at):
            raise WxError(40001)
        if now >= issued.expires_at:
            raise WxError(42001)
        return issued.appid

    def _current(self, appid: str, kind: TokenKind) -> AccessToken | None:
        token = self._latest.get((appid, kind))
        return None if token is None else self._tokens.get(token)

    def _new(self, appid: str, kind: TokenKind, now: datetime) -> AccessToken:
        forget_expired(self._tokens, now - KEEP_EXPIRED, lambda t: t.expires_at)
        text = "".join(self.rng.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
        issued = AccessToken(text, appid, kind, now + TOKEN_LIFETIME)
        self._tokens[text] = issued
        self._latest[(appid, kind)] = text
        return issued


class TokenEndpoints:
    """The HTTP side of :class:`AccessTokens`."""

    def __init__(self, sandbox: Sandbox, tokens: AccessTokens) -> None:
        self.sandbox = sandbox
        self.tokens = tokens

    def routes(self) -> list[BaseRoute]:
        """``GET /cgi-bin/token`` and ``POST /cgi-bin/stable_token``."""
        rng = self.sandbox.rng
        return [
            wx_route("/cgi-bin/token", self.token, rng, ["GET"]),
            wx_route("/cgi-bin/stable_token", self.stable_token, rng, ["POST"]),
        ]

    async def token(self, request: Request) -> Response:
        """https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html"""
        params = request.query_params
        require_grant_type(params, "client_credential")
        app = check_app_secret(self.sandbox.credentials, params)
        now = self.sandbox.clock.now()
        issued = self.tokens.issue(app.appid, now)
        return JSONResponse({"access_token": issued.token, "expires_in": issued.expires_in(now)})

    async def stable_token(self, request: Request) -> Response:
        """https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken"""
        raw = await read_limited(request, MAX_STABLE_BODY)
        if raw is None:
            raise WxError(45002)
        if not raw.strip():
            raise WxError(44002)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WxError(47001) from exc
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k, ""), str) for k in ("grant_type", "appid", "secret")
        ):
            raise WxError(47001)
        force_refresh = data.get("force_refresh", False)
        if not isinstance(force_refresh, bool):
            raise WxError(47001)
        require_grant_type(data, "client_credential")
        app = check_app_secret(self.sandbox.credentials, data)
        now = self.sandbox.clock.now()
        issued = self.tokens.stable(app.appid, now, force_refresh=force_refresh)
        return JSONResponse({"access_token": issued.token, "expires_in": issued.expires_in(now)})
