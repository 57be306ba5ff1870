"""Assemble the sandbox's ASGI app: the parts' routes, control routes, body limit, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from paydesk.sandbox import control
from paydesk.sandbox.faults import FaultMiddleware
from paydesk.sandbox.http import BodyLimitMiddleware

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox


def build_app(sandbox: Sandbox) -> Starlette:
    """The sandbox as one Starlette app.

    Its lifespan starts and stops the sandbox's background work when it runs standalone. When
    it is mounted inside another app (``paydesk serve``), Starlette does not run a mounted app's
    lifespan: the host calls ``sandbox.start()`` / ``stop()`` itself.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    routes = [*control.routes(sandbox)]
    for part in sandbox.parts:
        routes.extend(part.routes())
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    app.add_middleware(FaultMiddleware, plan=sandbox.pay.faults)
    app.add_middleware(BodyLimitMiddleware)
    return app
