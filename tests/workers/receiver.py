"""A merchant's webhook receiver for tests: an ASGI app that verifies, records and answers.

Used in-process through ``httpx.ASGITransport`` or over real HTTP with :func:`serve` (uvicorn
on a free loopback port, in a thread). It can answer from a script of status codes, hold every
request for a while, or block the first request until released (to kill a worker mid-request).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from paydesk.webhooks import WebhookVerificationError, verify

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    event: dict[str, Any] | None  #: the verified event, None if verification failed
    arrived: float  #: ``time.monotonic()`` when the body had been read

    @property
    def event_id(self) -> str:
        return self.headers["paydesk-event-id"]


class Receiver:
    """Verifies with ``secret`` (at ``now()``), records, answers ``statuses`` then 200."""

    def __init__(
        self,
        *,
        secret: str,
        now: Callable[[], int] | None = None,
        statuses: list[int] | None = None,
        delay: float = 0.0,
        block_first: bool = False,
        response_body: bytes = b"ok",
    ) -> None:
        self.secret = secret
        self.now = now or (lambda: int(time.time()))
        self.statuses = list(statuses or [])
        self.delay = delay
        self.block_first = block_first
        self.response_body = response_body
        self.received: list[Received] = []
        self.first_arrived = threading.Event()
        self.released = threading.Event()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight_per_event = 0

    async def __call__(self, scope: Scope, receive: Callable[[], Any], send: Any) -> None:
        if scope["type"] != "http":  # lifespan and the like: nothing to do
            return
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            event: dict[str, Any] | None = verify(
                body, headers.get("paydesk-signature", ""), self.secret, now=self.now()
            )
        except WebhookVerificationError:
            event = None
        request = Received(headers, body, event, time.monotonic())
        first = not self.received
        self.received.append(request)
        event_id = headers.get("paydesk-event-id", "")
        self.in_flight[event_id] += 1
        self.most_in_flight_per_event = max(self.most_in_flight_per_event, self.in_flight[event_id])
        try:
            if first and self.block_first:
                self.first_arrived.set()
                # ``released`` is a threading.Event (set from the test's thread), so poll it.
                while not self.released.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight[event_id] -= 1
        status = 400 if event is None else (self.statuses.pop(0) if self.statuses else 200)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": self.response_body})


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test receiver did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if isinstance(app, Receiver):
            app.released.set()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
