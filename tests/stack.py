"""The whole service wired to an in-process sandbox, for tests (a pytest plugin).

``stack`` gives a fresh paydesk API (the run's database, emptied after the test) whose WeChat is
a fresh sandbox, both in-process: the API calls the sandbox through ``httpx.ASGITransport``, and
the sandbox's notifications come back into the API the same way. No sockets, no real time
beyond the wall clock (pass a clock to ``make_stack`` to pin it).

    async def test_something(stack: Stack) -> None:
        order = await stack.create_order(amount=100)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.api import create_app
from paydesk.api.app import finish_background_work
from paydesk.api.embedded import config_from_sandbox
from paydesk.client import Endpoints
from paydesk.domain import apikeys
from paydesk.domain.clock import Clock, SystemClock
from paydesk.domain.context import Services, build_services
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.settings import Settings
from paydesk.settings.config import ApiVersion, SignTypeV2

PAYDESK_URL = "http://paydesk.test"
SANDBOX_URL = "http://sandbox.test"
MINI_APPID = "wx5a0d5a0d00000001"
OA_APPID = "wx5a0d5a0d00000002"
PUBLIC_KEY_MCHID = "1900000001"
CERTIFICATE_MCHID = "1900000002"


class LateASGITransport(httpx.AsyncBaseTransport):
    """An ASGI transport whose app is set later (the sandbox and the API call each other)."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.app is None:
            raise httpx.ConnectError("the API app is not wired yet", request=request)
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


@dataclass
class Stack:
    """A running paydesk + sandbox pair and a merchant API key."""

    sandbox: Sandbox
    services: Services
    app: FastAPI
    api: httpx.AsyncClient
    sandbox_client: httpx.AsyncClient
    api_key: str

    @property
    def merchant_headers(self) -> dict[str, str]:
        """``Authorization`` for the merchant backend."""
        return {"Authorization": f"Bearer {self.api_key}"}

    async def create_order(self, **fields: Any) -> dict[str, Any]:
        """POST /api/v1/orders as the merchant; returns the order JSON (asserts 201)."""
        body = {
            "merchant_order_id": f"m-{self.services.ids.token(8)}",
            "amount": 100,
            "description": "测试商品 test item",
            **fields,
        }
        response = await self.api.post("/api/v1/orders", json=body, headers=self.merchant_headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture(scope="session")
def sandbox_credentials() -> SandboxCredentials:
    """Sandbox keys are slow to make: once per test run, shared by every sandbox."""
    return SandboxCredentials.generate()


@pytest.fixture
async def make_stack(
    sandbox_credentials: SandboxCredentials, db_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[StackFactory]:
    """Build a stack: ``await make_stack(api_versions={"1900000002": "v2"}, clock=...)``.

    ``v2_sign_type`` pins the signature of every v2 merchant (``MD5`` or ``HMAC-SHA256``).
    """
    opened: list[Stack] = []

    async def build(
        *,
        api_versions: Mapping[str, ApiVersion] | None = None,
        clock: Clock | None = None,
        settings: Mapping[str, Any] | None = None,
        v2_sign_type: SignTypeV2 = "HMAC-SHA256",
    ) -> Stack:
        clock = clock or SystemClock()
        back_to_api = LateASGITransport()
        sandbox = Sandbox(sandbox_credentials, wall=clock.now, transport=back_to_api, seed=7)
        await sandbox.start()
        config = config_from_sandbox(
            sandbox_credentials, api_versions=api_versions, v2_sign_type=v2_sign_type
        )
        services = build_services(
            Settings(public_url=PAYDESK_URL, data_dir=tmp_path, **(settings or {})),
            config,
            clock=clock,
            engine=db_engine,
            endpoints=Endpoints.sandbox(SANDBOX_URL),
            wechat_transport=httpx.ASGITransport(app=sandbox.asgi()),
        )
        app = create_app(services, close_services_on_shutdown=False)
        back_to_api.app = app
        async with services.db.begin() as session:
            key, _ = await apikeys.create_api_key(
                session, name="test", mchid=None, ids=services.ids, now=clock.now()
            )
        api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PAYDESK_URL)
        sandbox_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox.asgi()), base_url=SANDBOX_URL
        )
        stack = Stack(sandbox, services, app, api, sandbox_client, key)
        opened.append(stack)
        return stack

    yield build
    for stack in opened:
        await stack.api.aclose()
        await stack.sandbox_client.aclose()
        await stack.sandbox.stop()
    for stack in opened:
        # The lifespan's shutdown (ASGITransport runs none): a notification the sandbox sent
        # may still be writing, and the tables are emptied next.
        await finish_background_work(stack.app)
        await stack.services.wechat.aclose()
        await stack.services.cache.aclose()


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    """The default stack: both sandbox merchants on Pay v3, the real clock."""
    return await make_stack()


@pytest.fixture
async def world(make_stack: StackFactory, clock: Clock) -> Stack:
    """A stack with paydesk and the sandbox both on ``clock``, a fixture that the tests wanting a
    world define next to them (each its own pinned time)."""
    return await make_stack(clock=clock)
