"""ASGI middleware of the API: a request id on every request and response, and size limits.

The body limit is :class:`paydesk.sandbox.http.BodyLimitMiddleware` with :func:`too_large_response`;
:class:`RequestLimitsMiddleware` bounds the rest of a request (URL and headers), so no route ever
parses a megabyte of query string or header.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paydesk.domain.ids import IdSource

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_URL_BYTES",
    "ErrorAnswer",
    "RequestIdMiddleware",
    "RequestLimitsMiddleware",
    "too_large_response",
]

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: No paydesk path holds a control character; PostgreSQL refuses NUL in any text parameter.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Path and query string together (nginx's default buffer for a request line is 8 KiB too).
MAX_URL_BYTES = 8 * 1024
#: Every header name and value together.
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100


class RequestIdMiddleware:
    """Give each request an id (the caller's ``X-Request-Id`` if sane) and echo it back."""

    def __init__(self, app: ASGIApp, ids: IdSource) -> None:
        self.app = app
        self.ids = ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (value for name, value in scope.get("headers") or () if name == b"x-request-id"), b""
        ).decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else self.ids.new("req")
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-Id", request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


class ErrorAnswer(Response):
    """An error in the API's shape, answered from middleware (before any route): it takes the
    request id from the scope when it is sent.

    >>> ErrorAnswer(413, "body_too_large", "send less").status_code
    413
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status)
        self.code = code
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = (scope.get("state") or {}).get("request_id")
        body = {"error": {"code": self.code, "message": self.message, "request_id": request_id}}
        await JSONResponse(body, status_code=self.status_code)(scope, receive, send)


def too_large_response(limit: int) -> Response:
    """The API's 413 in its own error shape."""
    return ErrorAnswer(413, "body_too_large", f"request body over {limit} bytes; send less")


class RequestLimitsMiddleware:
    """Refuse a URL over :data:`MAX_URL_BYTES` (414), a path with a control character in it
    (400: ``%00``, ``%0A``…) and headers over :data:`MAX_HEADERS` or :data:`MAX_HEADER_BYTES`
    (431) before routing, in the API's error shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = _refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> Response | None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    url_bytes = len(raw_path) + len(scope.get("query_string", b""))
    if url_bytes > MAX_URL_BYTES:
        return ErrorAnswer(
            414, "uri_too_long", f"path and query over {MAX_URL_BYTES} bytes; send less"
        )
    if _CONTROL.search(scope["path"]):
        return ErrorAnswer(
            400, "invalid_path", "the path holds a control character (%00–%1F, %7F); remove it"
        )
    headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
    header_bytes = sum(len(name) + len(value) for name, value in headers)
    if len(headers) > MAX_HEADERS or header_bytes > MAX_HEADER_BYTES:
        return ErrorAnswer(
            431,
            "headers_too_large",
            f"at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes together",
        )
    return None
