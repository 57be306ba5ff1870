"""Message pushes to the merchant: ``PUT /_sandbox/push-url``, ``POST /_sandbox/push``,
``POST /_sandbox/push-check`` and ``GET /_sandbox/pushes`` (PROTOCOL.md §4.3, §4.4).

A push is what WeChat sends when a user writes to the app's customer service. The merchant
must answer ``success`` or an empty body within 5 s; otherwise WeChat tries three more times
with the same ``MsgId``. Every attempt is recorded. A push also reopens the user's 48 h window
for the customer-service send API.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.protocol.messages import push_signature
from paydesk.sandbox.http import public_base, read_json
from paydesk.sandbox.identity.custom import CustomerService
from paydesk.sandbox.identity.persons import PersonBook, is_plausible_openid
from paydesk.sandbox.identity.push_build import (
    FORMATS,
    MODES,
    PushRefused,
    SealedPush,
    message_fields,
    original_id,
    seal_push,
)
from paydesk.sandbox.identity.push_delivery import (
    PUSH_DEADLINE,
    Attempt,
    deliver,
    exchange,
    is_acknowledged,
    is_http_url,
)
from paydesk.sandbox.identity.wxapi import control_error

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox
    from paydesk.sandbox.credentials import AppCredentials

#: Pushes kept for ``GET /_sandbox/pushes`` (oldest dropped first).
KEEP_PUSHES = 500
CONTENT_TYPES = {"xml": "text/xml", "json": "application/json"}


class Pushes:
    """Push URLs per app, the push and server-check calls, and the record of attempts."""

    def __init__(
        self, sandbox: Sandbox, persons: PersonBook, customer_service: CustomerService
    ) -> None:
        self.sandbox = sandbox
        self.persons = persons
        self.customer_service = customer_service
        #: Wall seconds the merchant has to answer (tests shorten it).
        self.deadline = PUSH_DEADLINE
        self._urls: dict[str, str] = {}
        self._log: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Forget recorded pushes; push URLs are configuration and stay."""
        self._log.clear()

    def url_for(self, appid: str) -> str | None:
        """Where the app's pushes go, if set."""
        return self._urls.get(appid)

    def routes(self) -> list[BaseRoute]:
        """The four control routes."""
        return [
            Route("/_sandbox/push-url", self.push_url, methods=["GET", "PUT"]),
            Route("/_sandbox/push", self.push, methods=["POST"]),
            Route("/_sandbox/push-check", self.push_check, methods=["POST"]),
            Route("/_sandbox/pushes", self.pushes, methods=["GET"]),
        ]

    async def push_url(self, request: Request) -> Response:
        """``PUT {"appid", "url"}`` sets where the app's pushes go; ``GET ?appid=`` reads it."""
        if request.method == "GET":
            appid = request.query_params.get("appid", "")
        else:
            data, problem = await read_json(request)
            if data is None:
                return control_error(problem or "")
            appid, url = data.get("appid", ""), data.get("url")
            if not is_http_url(url):
                return control_error("url must be an absolute http(s) URL")
        app = self._app(appid)
        if app is None:
            return control_error(f"unknown appid {appid!r}", 404)
        if request.method == "PUT":
            self._urls[app.appid] = str(url)
        return JSONResponse(
            {
                "appid": app.appid,
                "url": self._urls.get(app.appid),
                "original_id": original_id(app.appid),
            }
        )

    async def push(self, request: Request) -> Response:
        """``{"appid", "openid"?, "message", "mode"?, "format"?}`` → the push's record, with
        ``delivered`` and every attempt."""
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        data, app, url = target
        mode, fmt = data.get("mode", "safe"), data.get("format", "xml")
        openid, message = data.get("openid"), data.get("message")
        if mode not in MODES:
            return control_error("mode must be plain, compatible or safe")
        if fmt not in FORMATS or (fmt == "json" and app.type == "official_account"):
            return control_error("format must be xml or json (official accounts: xml only)")
        if openid is not None and (not isinstance(openid, str) or not is_plausible_openid(openid)):
            return control_error("openid must be 1-64 characters of [A-Za-z0-9_-]")
        if not isinstance(message, dict):
            return control_error('message must be an object like {"MsgType": "text", ...}')
        person = self.persons.get_or_create(app.appid, openid)
        now = self.sandbox.clock.now()
        msg_id = self.sandbox.rng.randrange(10**18, 10**19)
        defaults = {
            "PicUrl": f"{public_base(request)}/_sandbox/avatar/{person.unionid}.svg",
            "ThumbUrl": f"{public_base(request)}/_sandbox/avatar/{person.unionid}.svg",
            "MediaId": self.sandbox.random_string(64, string.ascii_letters + string.digits),
            "ThumbMediaId": self.sandbox.random_string(64, string.ascii_letters + string.digits),
            "AppId": app.appid,
            "SessionFrom": "",
        }
        try:
            fields = message_fields(
                app,
                person.openid_for(app.appid),
                message,
                create_time=int(now.timestamp()),
                msg_id=msg_id,
                defaults=defaults,
            )
        except PushRefused as refused:
            return control_error(str(refused))
        self.customer_service.record_interaction(app.appid, person.openid_for(app.appid), now)
        sealed = seal_push(
            app,
            fields,
            mode=mode,
            fmt=fmt,
            timestamp=str(int(self.sandbox.clock.wall().timestamp())),
            nonce=self.sandbox.random_string(10, string.digits),
            random16=self.sandbox.rng.randbytes(16),
        )
        attempts = await deliver(self._exchange, url, sealed, CONTENT_TYPES[fmt])
        record = {
            "appid": app.appid,
            "openid": person.openid_for(app.appid),
            "time": now.isoformat(),
            "mode": mode,
            "format": fmt,
            "msg_id": fields.get("MsgId"),
            "message": fields,
            "delivered": any(is_acknowledged(a) for a in attempts),
            "attempts": [a.view() for a in attempts],
            "request": {"query": sealed.query, "body": sealed.body.decode()},
        }
        self._log.append(record)
        del self._log[:-KEEP_PUSHES]
        return JSONResponse(record)

    async def push_check(self, request: Request) -> Response:
        """``{"appid"}``: WeChat's server check, ``GET ?signature&timestamp&nonce&echostr``;
        ``ok`` when the URL answers 200 with ``echostr`` verbatim."""
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        _, app, url = target
        timestamp = str(int(self.sandbox.clock.wall().timestamp()))
        nonce = self.sandbox.random_string(10, string.digits)
        echostr = self.sandbox.random_string(19, string.digits)
        sealed = SealedPush(
            {
                "signature": push_signature(app.push_token, timestamp, nonce),
                "echostr": echostr,
                "timestamp": timestamp,
                "nonce": nonce,
            },
            b"",
        )
        attempt = await self._exchange(1, "GET", url, sealed, None)
        ok = attempt.status == 200 and attempt.response == echostr
        return JSONResponse({"ok": ok, "echostr": echostr, "attempt": attempt.view()})

    async def pushes(self, request: Request) -> Response:
        """``GET /_sandbox/pushes?appid=&openid=`` → the recorded pushes, oldest first."""
        appid = request.query_params.get("appid")
        openid = request.query_params.get("openid")
        chosen = [
            p
            for p in self._log
            if (appid is None or p["appid"] == appid) and (openid is None or p["openid"] == openid)
        ]
        return JSONResponse({"pushes": chosen})

    async def _exchange(
        self, number: int, method: str, url: str, sealed: SealedPush, content_type: str | None
    ) -> Attempt:
        return await exchange(
            self.sandbox.http,
            number=number,
            method=method,
            url=url,
            sealed=sealed,
            content_type=content_type,
            deadline=self.deadline,
            when=self.sandbox.clock.now().isoformat(),
        )

    def _app(self, appid: object) -> AppCredentials | None:
        return self.sandbox.credentials.app(appid) if isinstance(appid, str) else None

    async def _target(
        self, request: Request
    ) -> tuple[dict[str, Any], AppCredentials, str] | Response:
        """The request's JSON, its app and that app's push URL — or the answer refusing it."""
        data, problem = await read_json(request)
        if data is None:
            return control_error(problem or "")
        app = self._app(data.get("appid"))
        if app is None:
            return control_error(f"unknown appid {data.get('appid')!r}", 404)
        url = self._urls.get(app.appid)
        if url is None:
            return control_error(f"no push URL for {app.appid}: PUT /_sandbox/push-url first", 409)
        return data, app, url
