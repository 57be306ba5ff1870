"""The API's middleware on a bare ASGI app: request ids, and URL and header limits at their
exact boundaries (raw scopes, so no client adds headers of its own)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from paydesk.api.middleware import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_URL_BYTES,
    RequestIdMiddleware,
    RequestLimitsMiddleware,
    too_large_response,
)
from paydesk.domain.clock import SystemClock
from paydesk.domain.ids import IdSource


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def http_scope(
    path: str = "/", query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers or [],
    }


async def call(app: Any, scope: Scope) -> tuple[int, dict[str, str], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


def guarded() -> Any:
    ids = IdSource(SystemClock())
    return RequestIdMiddleware(RequestLimitsMiddleware(ok), ids=ids)


async def test_a_url_at_the_limit_passes_and_one_byte_more_is_414() -> None:
    path = "/p"
    at_limit = b"q=" + b"x" * (MAX_URL_BYTES - len(path) - 2)
    assert (await call(guarded(), http_scope(path, at_limit)))[0] == 200
    status, headers, body = await call(guarded(), http_scope(path, at_limit + b"x"))
    assert status == 414
    error = json.loads(body)["error"]
    assert error["code"] == "uri_too_long"
    assert error["request_id"] == headers["x-request-id"]


@pytest.mark.parametrize("control", ["\x00", "\n", "\r", "\x1f", "\x7f"])
async def test_a_control_character_in_the_path_is_400(control: str) -> None:
    assert (await call(guarded(), http_scope("/api/v1/orders/ord_1")))[0] == 200
    status, _, body = await call(guarded(), http_scope(f"/api/v1/orders/ord{control}1"))
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_path"


@pytest.mark.parametrize(
    ("at_limit", "over"),
    [
        (
            [(b"x-a", b"v" * (MAX_HEADER_BYTES - 3))],
            [(b"x-a", b"v" * (MAX_HEADER_BYTES - 2))],
        ),
        (
            [(b"x-n", b"1")] * MAX_HEADERS,
            [(b"x-n", b"1")] * (MAX_HEADERS + 1),
        ),
    ],
    ids=["bytes", "count"],
)
async def test_headers_at_the_limit_pass_and_one_more_is_431(
    at_limit: list[tuple[bytes, bytes]], over: list[tuple[bytes, bytes]]
) -> None:
    assert (await call(guarded(), http_scope(headers=at_limit)))[0] == 200
    status, _, body = await call(guarded(), http_scope(headers=over))
    assert status == 431
    assert json.loads(body)["error"]["code"] == "headers_too_large"


async def test_a_sane_incoming_request_id_is_kept_and_a_strange_one_replaced() -> None:
    kept = await call(guarded(), http_scope(headers=[(b"x-request-id", b"req-from-proxy-1")]))
    assert kept[1]["x-request-id"] == "req-from-proxy-1"
    replaced = await call(guarded(), http_scope(headers=[(b"x-request-id", b"a b\r\nc")]))
    assert replaced[1]["x-request-id"].startswith("req_")


async def test_the_413_names_the_limit_and_the_request() -> None:
    async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
        await too_large_response(1024)(scope, receive, send)

    app = RequestIdMiddleware(too_large, ids=IdSource(SystemClock()))
    status, headers, body = await call(app, http_scope())
    error = json.loads(body)["error"]
    assert status == 413
    assert (error["code"], error["request_id"]) == ("body_too_large", headers["x-request-id"])
    assert "1024 bytes" in error["message"]


async def test_other_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> Message:
        return {"type": "lifespan.startup"}

    async def ignore(message: Message) -> None:
        return None

    for middleware in (
        RequestLimitsMiddleware(app),
        RequestIdMiddleware(app, IdSource(SystemClock())),
    ):
        await middleware({"type": "lifespan"}, nothing, ignore)
    assert seen == ["lifespan", "lifespan"]
