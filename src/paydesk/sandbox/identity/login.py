"""Mini program login: ``POST /_sandbox/login-code`` (what ``wx.login`` gives) and
``GET /sns/jscode2session`` (PROTOCOL.md §4.1).

https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.sandbox.http import read_json
from paydesk.sandbox.identity.codes import OneTimeCodes
from paydesk.sandbox.identity.persons import PersonBook, is_plausible_openid
from paydesk.sandbox.identity.wxapi import (
    WxError,
    check_app_secret,
    control_error,
    require_grant_type,
    wx_route,
)

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

SESSION_KEY_BYTES = 16


class MiniProgramLogin:
    """Login codes for mini programs and their exchange for openid, session_key and unionid."""

    def __init__(self, sandbox: Sandbox, persons: PersonBook) -> None:
        self.sandbox = sandbox
        self.persons = persons
        self.codes = OneTimeCodes(sandbox.rng)
        #: (appid, openid) → the session_key issued last: what the user's client signs with.
        self.session_keys: dict[tuple[str, str], str] = {}

    def reset(self) -> None:
        """Forget every code and session_key."""
        self.codes.reset()
        self.session_keys.clear()

    def session_key(self, appid: str, openid: str) -> str | None:
        """The user's current session_key (each ``jscode2session`` replaces it), if any."""
        return self.session_keys.get((appid, openid))

    def routes(self) -> list[BaseRoute]:
        """The control route and WeChat's route."""
        return [
            Route("/_sandbox/login-code", self.login_code, methods=["POST"]),
            wx_route("/sns/jscode2session", self.jscode2session, self.sandbox.rng, ["GET"]),
        ]

    async def login_code(self, request: Request) -> Response:
        """``{"appid", "openid"?}`` → ``{"code", "openid", "unionid"}``: ``wx.login`` for a new
        person, or for the person with that openid (created if the sandbox does not know it)."""
        data, problem = await read_json(request)
        if data is None:
            return control_error(problem or "")
        appid, openid = data.get("appid"), data.get("openid")
        if not isinstance(appid, str) or not appid:
            return control_error("appid is required")
        app = self.sandbox.credentials.app(appid)
        if app is None:
            return control_error(f"unknown appid {appid!r}", 404)
        if app.type != "miniprogram":
            return control_error(f"{appid} is not a mini program: wx.login exists only there")
        if openid is not None and (not isinstance(openid, str) or not is_plausible_openid(openid)):
            return control_error("openid must be 1-64 characters of [A-Za-z0-9_-]")
        person = self.persons.get_or_create(appid, openid)
        issued = self.codes.issue(appid, person.unionid, self.sandbox.clock.now())
        return JSONResponse(
            {"code": issued.code, "openid": person.openid_for(appid), "unionid": person.unionid}
        )

    async def jscode2session(self, request: Request) -> Response:
        """``code2Session``: each code works once (then 40163) within five minutes (then 40029)."""
        params = request.query_params
        require_grant_type(params, "authorization_code")
        app = check_app_secret(self.sandbox.credentials, params)
        js_code = params.get("js_code", "")
        if not js_code:
            raise WxError(41008)
        redemption = self.codes.redeem(js_code, app.appid, self.sandbox.clock.now())
        if redemption.issued is None:
            raise WxError(40163 if redemption.outcome == "used" else 40029)
        person = self.persons.person(redemption.issued.unionid)
        session_key = base64.b64encode(self.sandbox.rng.randbytes(SESSION_KEY_BYTES)).decode()
        self.session_keys[(app.appid, person.openid_for(app.appid))] = session_key
        return JSONResponse(
            {
                "openid": person.openid_for(app.appid),
                "session_key": session_key,
                "unionid": person.unionid,
            }
        )
