"""The sandbox: an offline emulator of WeChat's servers, signed and encrypted like the real thing.

One :class:`Sandbox` holds the credentials, the clocks, the outgoing HTTP client (for
notifications and message pushes) and two parts: ``pay`` (Pay v3/v2, payer, notifications,
faults, bills, pay pages) and ``identity`` (login codes, tokens, OAuth, customer-service
messages, pushes). :meth:`Sandbox.asgi` is the ASGI app; it can run standalone
(``paydesk sandbox``), be mounted at ``/sandbox`` inside ``paydesk serve``, or be called
in-process through ``httpx.ASGITransport``::

    sandbox = Sandbox(SandboxCredentials.generate())
    async with sandbox:                       # starts the notification dispatcher
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.asgi()),
                                   base_url="http://sandbox")
        creds = (await client.get("/_sandbox/credentials")).json()
"""

from __future__ import annotations

import random
from types import TracebackType
from typing import Protocol

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from paydesk.sandbox.clock import SandboxClock, WallClock, utc_now
from paydesk.sandbox.credentials import SandboxCredentials

__all__ = ["Sandbox", "SandboxClock", "SandboxCredentials", "SandboxPart"]


class SandboxPart(Protocol):
    """What each part of the sandbox (``pay``, ``identity``) offers the whole."""

    def routes(self) -> list[BaseRoute]:
        """The part's HTTP routes (WeChat's paths and its ``/_sandbox/`` control paths)."""
        ...

    def reset(self) -> None:
        """Forget all state (orders, codes, messages…), keeping the credentials."""
        ...

    async def start(self) -> None:
        """Start background work (e.g. the notification dispatcher)."""
        ...

    async def stop(self) -> None:
        """Stop background work; pending deliveries stay queued."""
        ...


class Sandbox:
    """One emulated WeChat: credentials, clocks, outgoing HTTP and the parts that answer."""

    def __init__(
        self,
        credentials: SandboxCredentials,
        *,
        wall: WallClock = utc_now,
        speed: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        seed: int | None = None,
    ) -> None:
        # Imported here: the parts import this module for the Sandbox type.
        from paydesk.sandbox.identity import IdentityWorld
        from paydesk.sandbox.pay import PayWorld

        self.credentials = credentials
        self.clock = SandboxClock(wall=wall, speed=speed)
        self.rng = random.Random(seed)  # noqa: S311 - sandbox ids, not secrets
        self.http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0))
        self.pay = PayWorld(self)
        self.identity = IdentityWorld(self)
        self._app: Starlette | None = None

    @property
    def parts(self) -> tuple[SandboxPart, ...]:
        """The parts, in routing order."""
        return (self.pay, self.identity)

    def asgi(self) -> Starlette:
        """The ASGI app (built once)."""
        if self._app is None:
            from paydesk.sandbox.app import build_app

            self._app = build_app(self)
        return self._app

    def reset(self) -> None:
        """Forget every order, code, token, message and delivery; keep the credentials."""
        for part in self.parts:
            part.reset()

    async def start(self) -> None:
        """Start the background work of every part."""
        for part in self.parts:
            await part.start()

    async def stop(self) -> None:
        """Stop background work and close the outgoing HTTP client."""
        for part in reversed(self.parts):
            await part.stop()
        await self.http.aclose()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def random_string(
        self, length: int, alphabet: str = "0123456789abcdefghijklmnopqrstuvwxyz"
    ) -> str:
        """A sandbox identifier (codes, tokens, ids) from the sandbox's own seeded generator."""
        return "".join(self.rng.choice(alphabet) for _ in range(length))
