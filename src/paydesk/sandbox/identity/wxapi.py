"""WeChat's own answer shapes for the login, token, OAuth and message APIs.

These APIs answer HTTP 200 even for errors, with ``{"errcode", "errmsg"}`` and a request id
suffix on the message (PROTOCOL.md §4.1)::

    >>> import random
    >>> body = wx_error_body(40029, "invalid code", random.Random(1))
    >>> body["errcode"], body["errmsg"].split(", rid: ")[0]
    (40029, 'invalid code')
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paydesk.sandbox.http import error_body

if TYPE_CHECKING:
    from paydesk.sandbox.credentials import AppCredentials, SandboxCredentials

#: errcode → errmsg, as WeChat spells them (PROTOCOL.md §4.1–§4.5).
ERRMSG: dict[int, str] = {
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40029: "invalid code",
    40030: "invalid refresh_token",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    41002: "appid missing",
    41003: "refresh_token missing",
    41004: "appsecret missing",
    41008: "missing code",
    42001: "access_token expired",
    42002: "refresh_token expired",
    42003: "code expired",
    44002: "empty post data",
    45002: "content size out of limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    48001: "api unauthorized",
}

HEX = "0123456789abcdef"


class WxError(Exception):
    """A WeChat errcode to answer with; raised inside a handler, turned into a response once.

    >>> WxError(40013).errcode
    40013
    """

    def __init__(self, errcode: int, detail: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.detail = detail


def wx_error_body(errcode: int, errmsg: str, rng: random.Random) -> dict[str, Any]:
    """``{"errcode", "errmsg"}`` with WeChat's ``, rid: xxxxxxxx-xxxxxxxx-xxxxxxxx`` suffix."""
    rid = "-".join("".join(rng.choice(HEX) for _ in range(8)) for _ in range(3))
    return {"errcode": errcode, "errmsg": f"{errmsg}, rid: {rid}"}


def wx_error_response(error: WxError, rng: random.Random) -> JSONResponse:
    """The HTTP 200 JSON answer for ``error``."""
    errmsg = ERRMSG.get(error.errcode, "system error")
    return JSONResponse(wx_error_body(error.errcode, errmsg, rng))


def control_error(message: str, status: int = 400) -> JSONResponse:
    """An error from a ``/_sandbox/`` control endpoint (the sandbox's own JSON shape).

    >>> control_error("appid is required").status_code
    400
    """
    return JSONResponse(error_body("PARAM_ERROR", message), status_code=status)


def require_grant_type(params: Mapping[str, str], expected: str) -> None:
    """40002 unless ``grant_type`` is exactly ``expected``."""
    if params.get("grant_type") != expected:
        raise WxError(40002)


def check_app_secret(credentials: SandboxCredentials, params: Mapping[str, str]) -> AppCredentials:
    """The app named by ``appid`` whose ``secret`` is right, in WeChat's order of complaints:
    41002 appid missing, 41004 secret missing, 40013 unknown appid, 40125 wrong secret."""
    appid, secret = params.get("appid", ""), params.get("secret", "")
    if not appid:
        raise WxError(41002)
    if not secret:
        raise WxError(41004)
    app = credentials.app(appid)
    if app is None:
        raise WxError(40013)
    # "surrogatepass": a JSON body can hold lone surrogates, which are simply wrong here.
    if not hmac.compare_digest(secret.encode("utf-8", "surrogatepass"), app.secret.encode()):
        raise WxError(40125)
    return app


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is over ``limit`` bytes (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


WxHandler = Callable[[Request], Awaitable[Response]]


def wx_route(path: str, handler: WxHandler, rng: random.Random, methods: list[str]) -> Route:
    """A route whose handler may raise :class:`WxError`; it becomes WeChat's HTTP 200 answer."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except WxError as error:
            return wx_error_response(error, rng)

    return Route(path, endpoint, methods=methods)
