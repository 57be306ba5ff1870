"""OAuth in the browser (PROTOCOL.md §4.5): ``GET /connect/oauth2/authorize``, the consent page
and its answer, ``GET /_sandbox/as-user`` and the avatars ``sns/userinfo`` points at.

The browser's person lives in the ``sandbox_person`` cookie (their unionid); a browser without
one becomes a new person. ``snsapi_base`` redirects at once; ``snsapi_userinfo`` asks first.

https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.oauth import AuthorizeRequest, callback_url, parse_authorize_query
from paydesk.sandbox.http import public_base
from paydesk.sandbox.identity.codes import forget_expired
from paydesk.sandbox.identity.oauth_api import OAuthGrants
from paydesk.sandbox.identity.persons import Person, PersonBook
from paydesk.sandbox.identity.wxapi import control_error, read_limited

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

COOKIE = "sandbox_person"
TICKET_LIFETIME = timedelta(minutes=10)
MAX_FORM_BODY = 4096
#: WeChat's error page codes for an empty parameter, and for a wrong one (when it has one).
EMPTY_CODES = {"appid": 10012, "redirect_uri": 10011, "scope": 10010, "state": 10013}
WRONG_CODES = {"redirect_uri": 10003, "scope": 10005}
APP_NAME = ("沙箱公众号", "Sandbox official account")

templates = Environment(
    loader=PackageLoader("paydesk.sandbox", "templates"), autoescape=select_autoescape()
)


@dataclass(frozen=True)
class ConsentTicket:
    """One shown consent page: what Allow or Deny will do."""

    appid: str
    redirect_uri: str
    state: str
    unionid: str
    expires_at: datetime


class AuthorizeRefused(Exception):
    """The authorize request is wrong: WeChat shows its error page."""

    def __init__(self, errcode: int | None, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.errcode = errcode
        self.message = message
        self.message_en = message_en


def is_sandbox_path(target: str) -> bool:
    """A relative path inside the sandbox (``/…``): never another host, so no open redirect.

    >>> is_sandbox_path("/connect/oauth2/authorize?appid=x"), is_sandbox_path("//evil.example")
    (True, False)
    """
    # A single leading "/" leaves no room for a scheme or a host; browsers read "\\" as "/".
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(c.isprintable() and not c.isspace() for c in target)
    )


class OAuthPages:
    """The browser side of OAuth, and the person cookie."""

    def __init__(self, sandbox: Sandbox, persons: PersonBook, grants: OAuthGrants) -> None:
        self.sandbox = sandbox
        self.persons = persons
        self.grants = grants
        self._tickets: dict[str, ConsentTicket] = {}

    def reset(self) -> None:
        """Forget every pending consent page."""
        self._tickets.clear()

    def routes(self) -> list[BaseRoute]:
        """Authorize, the consent answer, as-user and avatars."""
        return [
            Route("/connect/oauth2/authorize", self.authorize, methods=["GET"]),
            Route("/_sandbox/oauth/consent", self.consent, methods=["POST"]),
            Route("/_sandbox/as-user", self.as_user, methods=["GET"]),
            Route("/_sandbox/avatar/{unionid}.svg", self.avatar, methods=["GET"]),
        ]

    async def authorize(self, request: Request) -> Response:
        """Validate like WeChat, then redirect (``snsapi_base``) or ask (``snsapi_userinfo``)."""
        try:
            asked = self._check_authorize(request)
        except AuthorizeRefused as refused:
            return self._error_page(refused)
        person, is_new = self._browser_person(request)
        if asked.scope == "snsapi_base":
            code = self.grants.issue_code(asked.appid, person, asked.scope)
            response: Response = RedirectResponse(
                callback_url(asked.redirect_uri, code=code, state=asked.state), status_code=302
            )
        else:
            response = self._consent_page(request, asked, person)
        if is_new:
            self._set_cookie(request, response, person)
        return response

    async def consent(self, request: Request) -> Response:
        """The consent form's answer: Allow → ``code`` and ``state``; Deny → only ``state``."""
        raw = await read_limited(request, MAX_FORM_BODY)
        form = dict(parse_qsl((raw or b"").decode("utf-8", "replace")))
        ticket = self._tickets.pop(form.get("ticket", ""), None)
        decision = form.get("decision")
        if ticket is None or self.sandbox.clock.now() >= ticket.expires_at:
            return self._error_page(
                AuthorizeRefused(None, "授权页已失效，请重新打开", "This consent page has expired.")
            )
        if decision not in ("allow", "deny"):
            return self._error_page(
                AuthorizeRefused(None, "请选择允许或拒绝", "Choose Allow or Deny.")
            )
        code = None
        if decision == "allow":
            person = self.persons.person(ticket.unionid)
            code = self.grants.issue_code(ticket.appid, person, "snsapi_userinfo")
        return RedirectResponse(
            callback_url(ticket.redirect_uri, code=code, state=ticket.state), status_code=302
        )

    async def as_user(self, request: Request) -> Response:
        """``?openid=…`` or ``?unionid=…``, optional ``next=/path``: be this person here."""
        openid = request.query_params.get("openid", "")
        unionid = request.query_params.get("unionid", "")
        target = request.query_params.get("next", "")
        if bool(openid) == bool(unionid):
            return control_error("give exactly one of openid or unionid")
        if target and not is_sandbox_path(target):
            return control_error("next must be a path of this sandbox, like /connect/oauth2/...")
        person = self.persons.find_openid(openid) if openid else self.persons.by_unionid(unionid)
        if person is None:
            return control_error(f"no such person: {openid or unionid}", 404)
        response: Response = (
            RedirectResponse(public_base(request) + target, status_code=302)
            if target
            else JSONResponse(person.view())
        )
        self._set_cookie(request, response, person)
        return response

    async def avatar(self, request: Request) -> Response:
        """A small SVG avatar, coloured from the unionid (``headimgurl`` points here)."""
        unionid = request.path_params["unionid"]
        hue = int(hashlib.sha256(unionid.encode()).hexdigest()[:4], 16) % 360
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="132" height="132">'
            f'<rect width="132" height="132" fill="hsl({hue},55%,60%)"/>'
            '<circle cx="66" cy="52" r="24" fill="#fff"/>'
            '<rect x="26" y="86" width="80" height="46" rx="23" fill="#fff"/></svg>'
        )
        return Response(svg, media_type="image/svg+xml")

    def _check_authorize(self, request: Request) -> AuthorizeRequest:
        names = ("appid", "redirect_uri", "response_type", "scope", "state")
        params = {name: request.query_params.get(name, "") for name in names}
        try:
            asked = parse_authorize_query(params)
        except MalformedInput as exc:
            field = exc.field or ""
            empty = not params.get(field)
            errcode = EMPTY_CODES.get(field) if empty else WRONG_CODES.get(field)
            raise AuthorizeRefused(errcode, f"{field} 参数错误", exc.reason) from exc
        except ValueError as exc:  # urllib's own complaint, e.g. "http://[::1/"
            raise AuthorizeRefused(
                WRONG_CODES["redirect_uri"], "redirect_uri 参数错误", str(exc)
            ) from exc
        app = self.sandbox.credentials.app(asked.appid)
        if app is None:
            raise AuthorizeRefused(40013, "invalid appid", f"Unknown appid {asked.appid}.")
        if app.type != "official_account":
            raise AuthorizeRefused(
                10005,
                "此公众号并没有这些scope的权限",
                f"{asked.appid} is a {app.type}: web authorization needs an official account.",
            )
        return asked

    def _browser_person(self, request: Request) -> tuple[Person, bool]:
        known = self.persons.by_unionid(request.cookies.get(COOKIE, ""))
        return (known, False) if known is not None else (self.persons.create(), True)

    def _set_cookie(self, request: Request, response: Response, person: Person) -> None:
        path = request.scope.get("root_path", "") or "/"
        response.set_cookie(COOKIE, person.unionid, path=path, httponly=True, samesite="lax")

    def _consent_page(self, request: Request, asked: AuthorizeRequest, person: Person) -> Response:
        now = self.sandbox.clock.now()
        forget_expired(self._tickets, now, lambda t: t.expires_at)
        ticket = self.sandbox.random_string(32)
        self._tickets[ticket] = ConsentTicket(
            asked.appid, asked.redirect_uri, asked.state, person.unionid, now + TICKET_LIFETIME
        )
        name, name_en = APP_NAME
        base = public_base(request)
        html = templates.get_template("identity/consent.html").render(
            app_name=name,
            app_name_en=name_en,
            appid=asked.appid,
            nickname=person.nickname,
            avatar_url=f"{base}/_sandbox/avatar/{person.unionid}.svg",
            action=f"{base}/_sandbox/oauth/consent",
            ticket=ticket,
            redirect_host=urlsplit(asked.redirect_uri).netloc,
        )
        return HTMLResponse(html)

    def _error_page(self, refused: AuthorizeRefused) -> Response:
        html = templates.get_template("identity/error.html").render(
            errcode=refused.errcode, message=refused.message, message_en=refused.message_en
        )
        return HTMLResponse(html, status_code=400)
