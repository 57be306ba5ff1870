"""The merchant's side of a message push: what a merchant's server does with what the sandbox
sends to its push URL (the protocol layer only), and a scripted push endpoint with the sandbox
that pushes to it (``open_world``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paydesk.protocol.messages import (
    MessageCrypto,
    PushFormat,
    check_push_signature,
    extract_encrypt,
)
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.push_build import PushMode


def open_push(
    app: AppCredentials, query: dict[str, str], body: bytes, mode: PushMode, fmt: PushFormat
) -> bytes:
    """Check a push's signatures, decrypt it, and return the message (for ``parse_push``)."""
    check_push_signature(
        token=app.push_token,
        timestamp=query["timestamp"],
        nonce=query["nonce"],
        signature=query["signature"],
    )
    if mode == "plain":
        assert "encrypt_type" not in query
        assert "msg_signature" not in query
        return body
    assert query["encrypt_type"] == "aes"
    crypto = MessageCrypto(app.push_token, app.encoding_aes_key, app.appid)
    return crypto.open(
        msg_signature=query["msg_signature"],
        timestamp=query["timestamp"],
        nonce=query["nonce"],
        encrypt=extract_encrypt(body, fmt),
    )


PUSH_URL = "https://merchant.example/wechat/push"


@dataclass
class Merchant:
    """A push endpoint that answers from a script (the last answer repeats)."""

    answers: list[tuple[int, str, float]] = field(default_factory=lambda: [(200, "success", 0)])
    echo: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.received.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": dict(request.headers),
                "body": await request.body(),
            }
        )
        status, body, delay = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        await asyncio.sleep(delay)
        if self.echo:
            body = request.query_params.get("echostr", "")
        return Response(body, status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])


@dataclass
class World:
    sandbox: Sandbox
    client: httpx.AsyncClient
    merchant: Merchant
    mini: AppCredentials
    oa: AppCredentials

    async def set_url(self, app: AppCredentials, url: str = PUSH_URL) -> None:
        response = await self.client.put(
            "/_sandbox/push-url", json={"appid": app.appid, "url": url}
        )
        assert response.status_code == 200, response.text

    async def push(self, **body: Any) -> httpx.Response:
        return await self.client.post("/_sandbox/push", json=body)


@contextlib.asynccontextmanager
async def open_world(
    credentials: SandboxCredentials, merchant: Merchant, *, seed: int
) -> AsyncIterator[World]:
    """A sandbox whose pushes reach ``merchant``, and a client of its control API."""
    box = Sandbox(credentials, transport=httpx.ASGITransport(app=merchant.app()), seed=seed)
    async with (
        box,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.asgi()), base_url="http://sandbox.test"
        ) as client,
    ):
        apps = {a.type: a for a in credentials.apps}
        yield World(box, client, merchant, apps["miniprogram"], apps["official_account"])
