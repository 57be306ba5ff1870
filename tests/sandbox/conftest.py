"""Sandbox fixtures: one set of credentials per run, a fresh sandbox per test, reached in-process
(``httpx.ASGITransport``) or over real HTTP (uvicorn in a thread on a free port)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paydesk.sandbox import Sandbox, SandboxCredentials
from tests.serving import ServerThread


@dataclass
class Receiver:
    """A merchant endpoint that records what the sandbox sends it and answers as told."""

    status: int = 204
    body: bytes = b""
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.received.append(
            {
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": dict(request.headers),
                "body": await request.body(),
            }
        )
        return Response(self.body, status_code=self.status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])

    def wait_for(self, count: int, seconds: float = 10) -> list[dict[str, Any]]:
        """Block until ``count`` requests have arrived (served from another thread: see
        ``receiver_server``); every request received so far."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the sandbox delivered {len(self.received)} of {count}")
            time.sleep(0.02)
        return self.received


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def sandbox(
    sandbox_credentials: SandboxCredentials, receiver: Receiver
) -> AsyncIterator[Sandbox]:
    """A fresh in-process sandbox; its outgoing calls (notifications, pushes) reach ``receiver``."""
    box = Sandbox(sandbox_credentials, transport=httpx.ASGITransport(app=receiver.app()), seed=1234)
    async with box:
        yield box


@pytest.fixture
async def sandbox_client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls the sandbox in-process at base URL http://sandbox.test."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.asgi()), base_url="http://sandbox.test"
    ) as client:
        yield client


@pytest.fixture
def receiver_server(receiver: Receiver) -> Iterator[ServerThread]:
    """``receiver`` reachable over real HTTP."""
    with ServerThread(receiver.app()) as server:
        yield server


@pytest.fixture
def sandbox_server(
    sandbox_credentials: SandboxCredentials, receiver_server: ServerThread
) -> Iterator[tuple[Sandbox, ServerThread]]:
    """A fresh sandbox served over real HTTP (its notifications go out over real HTTP too:
    point notify URLs at ``receiver_server.base_url``)."""
    box = Sandbox(sandbox_credentials, seed=1234)
    with ServerThread(box.asgi()) as server:
        yield box, server
