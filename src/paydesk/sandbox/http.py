"""Small HTTP helpers shared by every sandbox endpoint: body limits, JSON in and out, the URL a
merchant signed.

    >>> error_body("PARAM_ERROR", "参数错误")
    {'code': 'PARAM_ERROR', 'message': '参数错误'}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024


class BodyLimitMiddleware:
    """Refuse any request body over ``max_bytes`` with 413, before an endpoint sees any of it.

    The body is read here, up to the limit, and handed on whole: a limit checked while the
    endpoint reads would surface inside its framework (FastAPI turns any error while parsing
    JSON into a 400), and an endpoint that never reads its body would never be refused.
    ``too_large(limit)`` builds the 413 response (default: WeChat's v3 error shape).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        too_large: Callable[[int], Response] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = too_large or _too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large(self.max_bytes)(scope, receive, send)
            return
        first = await self._read_body(receive)
        if first is None:
            await self.too_large(self.max_bytes)(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: the client's disconnect
            delivered = True
            return first

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> Message | None:
        """The whole body as one message (or the client's disconnect); None past the limit."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk: bytes = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _too_large(limit: int) -> Response:
    return JSONResponse(
        error_body("PARAM_ERROR", f"请求体过大 (request body over {limit} bytes)"), status_code=413
    )


def error_body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """WeChat Pay v3's error body shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if detail:
        body["detail"] = detail
    return body


def signed_url(request: Request) -> str:
    """The path and query exactly as the merchant signed them: WeChat's path, without our mount.

    A merchant whose base URL is ``http://host/sandbox`` signs ``/v3/...``; we receive
    ``/sandbox/v3/...``. The raw path keeps the merchant's own percent-escaping.
    """
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    root: bytes = request.scope.get("root_path", "").encode()
    path = raw[len(root) :] if root and raw.startswith(root) else raw
    query: bytes = request.scope.get("query_string", b"")
    return (path + (b"?" + query if query else b"")).decode("latin-1")


def public_base(request: Request) -> str:
    """The sandbox's base URL as this caller reaches it (scheme, host and mount prefix)."""
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}"


async def read_json(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a JSON object body: ``(data, None)`` or ``(None, what is wrong)``."""
    raw = await request.body()
    if not raw:
        return None, "empty body: send a JSON object"
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"body is not valid JSON: {exc}"
    if not isinstance(data, dict):
        return None, "body must be a JSON object"
    return data, None
