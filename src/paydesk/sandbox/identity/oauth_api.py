"""OAuth's server side (PROTOCOL.md §4.5): ``POST /_sandbox/oauth-code``,
``GET /sns/oauth2/access_token``, ``GET /sns/oauth2/refresh_token``, ``GET /sns/userinfo`` and
``GET /sns/auth``.

https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.sandbox.http import public_base, read_json
from paydesk.sandbox.identity.codes import OneTimeCodes, forget_expired
from paydesk.sandbox.identity.persons import Person, PersonBook, is_plausible_openid
from paydesk.sandbox.identity.tokens import TOKEN_ALPHABET
from paydesk.sandbox.identity.wxapi import (
    WxError,
    check_app_secret,
    control_error,
    require_grant_type,
    wx_route,
)

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

SCOPES = ("snsapi_base", "snsapi_userinfo")
ACCESS_LIFETIME = timedelta(seconds=7200)
#: 30 days on the website-app page, 180 on the mobile-app page; the shorter one here.
REFRESH_LIFETIME = timedelta(days=30)
SNS_TOKEN_LENGTH = 110
#: Expired tokens are remembered this long (42001 / 42002), then forgotten.
KEEP_EXPIRED = timedelta(days=1)


@dataclass(frozen=True)
class Grant:
    """What an OAuth token (access or refresh) stands for."""

    appid: str
    unionid: str
    scope: str
    expires_at: datetime


class OAuthGrants:
    """OAuth codes, access tokens and refresh tokens, and their HTTP endpoints."""

    def __init__(self, sandbox: Sandbox, persons: PersonBook) -> None:
        self.sandbox = sandbox
        self.persons = persons
        self.codes = OneTimeCodes(sandbox.rng)
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}

    def reset(self) -> None:
        """Forget every code and token."""
        self.codes.reset()
        self._access.clear()
        self._refresh.clear()

    def routes(self) -> list[BaseRoute]:
        """The control route and WeChat's four routes."""
        rng = self.sandbox.rng
        return [
            Route("/_sandbox/oauth-code", self.oauth_code, methods=["POST"]),
            wx_route("/sns/oauth2/access_token", self.access_token, rng, ["GET"]),
            wx_route("/sns/oauth2/refresh_token", self.refresh_token, rng, ["GET"]),
            wx_route("/sns/userinfo", self.userinfo, rng, ["GET"]),
            wx_route("/sns/auth", self.auth, rng, ["GET"]),
        ]

    def issue_code(self, appid: str, person: Person, scope: str) -> str:
        """A code, as the authorize redirect carries it, for ``person`` in ``appid``."""
        return self.codes.issue(appid, person.unionid, self.sandbox.clock.now(), scope=scope).code

    async def oauth_code(self, request: Request) -> Response:
        """``{"appid", "openid"?, "scope"?}`` → ``{"code", "openid", "unionid", "scope"}``: an
        authorized redirect without a browser (``scope`` defaults to ``snsapi_base``)."""
        data, problem = await read_json(request)
        if data is None:
            return control_error(problem or "")
        appid, openid = data.get("appid"), data.get("openid")
        scope = data.get("scope", "snsapi_base")
        if not isinstance(appid, str) or not appid:
            return control_error("appid is required")
        app = self.sandbox.credentials.app(appid)
        if app is None:
            return control_error(f"unknown appid {appid!r}", 404)
        if app.type != "official_account":
            return control_error(f"{appid} is not an official account: web OAuth needs one")
        if scope not in SCOPES:
            return control_error("scope must be snsapi_base or snsapi_userinfo")
        if openid is not None and (not isinstance(openid, str) or not is_plausible_openid(openid)):
            return control_error("openid must be 1-64 characters of [A-Za-z0-9_-]")
        person = self.persons.get_or_create(appid, openid)
        code = self.issue_code(appid, person, str(scope))
        return JSONResponse(
            {
                "code": code,
                "openid": person.openid_for(appid),
                "unionid": person.unionid,
                "scope": scope,
            }
        )

    async def access_token(self, request: Request) -> Response:
        """Code → tokens: 40029 unknown, 40163 used, 42003 older than five minutes."""
        params = request.query_params
        require_grant_type(params, "authorization_code")
        app = check_app_secret(self.sandbox.credentials, params)
        code = params.get("code", "")
        if not code:
            raise WxError(41008)
        now = self.sandbox.clock.now()
        redemption = self.codes.redeem(code, app.appid, now)
        if redemption.issued is None:
            errcode = {"used": 40163, "expired": 42003}.get(redemption.outcome, 40029)
            raise WxError(errcode)
        issued = redemption.issued
        forget_expired(self._refresh, now - KEEP_EXPIRED, lambda g: g.expires_at)
        refresh = self._new_token()
        self._refresh[refresh] = Grant(
            app.appid, issued.unionid, issued.scope, now + REFRESH_LIFETIME
        )
        return JSONResponse(self._token_answer(refresh, self._refresh[refresh], now))

    async def refresh_token(self, request: Request) -> Response:
        """A new access token for a refresh token (valid 30 days): 40030 unknown, 42002 expired."""
        params = request.query_params
        require_grant_type(params, "refresh_token")
        appid = params.get("appid", "")
        if not appid:
            raise WxError(41002)
        if self.sandbox.credentials.app(appid) is None:
            raise WxError(40013)
        refresh = params.get("refresh_token", "")
        if not refresh:
            raise WxError(41003)
        grant = self._refresh.get(refresh)
        if grant is None or grant.appid != appid:
            raise WxError(40030)
        now = self.sandbox.clock.now()
        if now >= grant.expires_at:
            raise WxError(42002)
        return JSONResponse(self._token_answer(refresh, grant, now))

    async def userinfo(self, request: Request) -> Response:
        """The person's public profile; 48001 for a ``snsapi_base`` token."""
        grant, person = self._check_access(request)
        if grant.scope != "snsapi_userinfo":
            raise WxError(48001)
        avatar = f"{public_base(request)}/_sandbox/avatar/{person.unionid}.svg"
        # Since 2021 WeChat no longer returns gender and region: the fields stay, empty.
        return JSONResponse(
            {
                "openid": person.openid_for(grant.appid),
                "nickname": person.nickname,
                "sex": 0,
                "province": "",
                "city": "",
                "country": "",
                "headimgurl": avatar,
                "privilege": [],
                "unionid": person.unionid,
            }
        )

    async def auth(self, request: Request) -> Response:
        """Is this OAuth access token valid for this openid?"""
        self._check_access(request)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    def _check_access(self, request: Request) -> tuple[Grant, Person]:
        params = request.query_params
        token = params.get("access_token", "")
        if not token:
            raise WxError(41001)
        grant = self._access.get(token)
        if grant is None:
            raise WxError(40001)
        if self.sandbox.clock.now() >= grant.expires_at:
            raise WxError(42001)
        person = self.persons.person(grant.unionid)
        if params.get("openid", "") != person.openid_for(grant.appid):
            raise WxError(40003)
        return grant, person

    def _token_answer(self, refresh: str, grant: Grant, now: datetime) -> dict[str, Any]:
        forget_expired(self._access, now - KEEP_EXPIRED, lambda g: g.expires_at)
        access = self._new_token()
        self._access[access] = Grant(grant.appid, grant.unionid, grant.scope, now + ACCESS_LIFETIME)
        person = self.persons.person(grant.unionid)
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(ACCESS_LIFETIME.total_seconds()),
            "refresh_token": refresh,
            "openid": person.openid_for(grant.appid),
            "scope": grant.scope,
        }
        if grant.scope == "snsapi_userinfo":
            answer["unionid"] = person.unionid
        return answer

    def _new_token(self) -> str:
        return "".join(self.sandbox.rng.choice(TOKEN_ALPHABET) for _ in range(SNS_TOKEN_LENGTH))
