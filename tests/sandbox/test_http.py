"""``BodyLimitMiddleware`` on raw ASGI messages: a body is read up to the limit before the app
sees it, whole; one byte more is a 413 and the app never runs."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from paydesk.sandbox.http import BodyLimitMiddleware

LIMIT = 100


class Echo:
    """Reads every message it is given until the body ends, then once more, and answers."""

    def __init__(self) -> None:
        self.received: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.received.append(message)
        if message["type"] == "http.request":
            self.received.append(await receive())  # what follows the body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": "POST", "path": "/", "headers": headers or []}


async def run(
    app: Any, messages: list[Message], headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, bytes, int]:
    """Send ``messages`` as the client (then a disconnect); the status, body and how many of
    ``messages`` were read."""
    queue = [*messages, {"type": "http.disconnect"}]
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope(headers), receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, min(read, len(messages))


def chunks(*sizes: int) -> list[Message]:
    return [
        {"type": "http.request", "body": b"x" * size, "more_body": n < len(sizes) - 1}
        for n, size in enumerate(sizes)
    ]


async def test_a_body_at_the_limit_reaches_the_app_whole_then_the_disconnect() -> None:
    echo = Echo()
    status, _, _ = await run(BodyLimitMiddleware(echo, max_bytes=LIMIT), chunks(40, 40, 20))
    assert status == 200
    body, after = echo.received
    assert body == {"type": "http.request", "body": b"x" * LIMIT, "more_body": False}
    assert after == {"type": "http.disconnect"}


async def test_one_byte_over_is_413_and_the_app_never_runs() -> None:
    echo = Echo()
    middleware = BodyLimitMiddleware(echo, max_bytes=LIMIT)
    status, body, read = await run(middleware, chunks(60, 41, 500, 500))
    assert status == 413
    assert json.loads(body)["code"] == "PARAM_ERROR"
    assert read == 2  # stopped reading at the chunk that went over
    assert echo.received == []


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    echo = Echo()
    middleware = BodyLimitMiddleware(echo, max_bytes=LIMIT)
    status, _, read = await run(middleware, chunks(10), headers=[(b"content-length", b"101")])
    assert (status, read, echo.received) == (413, 0, [])


async def test_a_client_gone_mid_body_is_a_disconnect_for_the_app() -> None:
    echo = Echo()
    first_of_two = chunks(10, 10)[:1]  # "more is coming", then the client leaves
    await run(BodyLimitMiddleware(echo, max_bytes=LIMIT), first_of_two)
    assert echo.received == [{"type": "http.disconnect"}]


async def test_the_answer_is_the_callers_own_413() -> None:
    middleware = BodyLimitMiddleware(
        Echo(), max_bytes=LIMIT, too_large=lambda limit: PlainTextResponse(f"≤{limit}", 413)
    )
    status, body, _ = await run(middleware, chunks(LIMIT + 1))
    assert (status, body.decode()) == (413, "≤100")


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    await BodyLimitMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]
