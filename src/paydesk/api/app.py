"""``create_app(services)``: the FastAPI app — routers, error shape, request ids, body limits.

    services = build_services(settings, config)
    app = create_app(services)           # OpenAPI at /docs and /openapi.json

The services are built by the caller (``paydesk serve``, tests), so the same app runs on the
embedded defaults, on PostgreSQL + Redis, or in a test with a fixed clock and the sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from paydesk import __version__
from paydesk.api.deadline import InFlight
from paydesk.api.errors import install_error_handlers
from paydesk.api.middleware import (
    RequestIdMiddleware,
    RequestLimitsMiddleware,
    too_large_response,
)
from paydesk.api.routes import (
    auth,
    cashier,
    health,
    notify,
    orders,
    pay,
    push,
    refunds,
    tickets,
)
from paydesk.domain.context import Services
from paydesk.domain.push.worker import PushRuntime
from paydesk.sandbox.http import BodyLimitMiddleware

#: The API's routers, in the order they are matched. WeChat's notifications come first: a
#: burst of them is matched without trying every other route's pattern.
ROUTERS: tuple[APIRouter, ...] = (
    notify.router,
    health.router,
    orders.router,
    auth.router,
    pay.router,
    refunds.router,
    cashier.router,
    push.router,
    tickets.router,
)
#: How long shutdown waits for background work (late notifications, pushes) before cancelling it.
SHUTDOWN_GRACE_SECONDS = 5.0


async def finish_background_work(app: FastAPI) -> None:
    """What is still running after the answers went out, ended before the app stops.

    A notification or virtual payment push answered at its deadline may still be finishing
    its transaction (``api/deadline.py``); other pushes were answered "success" at once and
    their work may still be running. Each gets :data:`SHUTDOWN_GRACE_SECONDS`, then is
    cancelled: a notification rolls back and WeChat sends it again; a push is left for
    ``rerun_pushes``.
    The lifespan calls it; so do hosts that run no lifespan (tests on ``ASGITransport``).
    """
    in_flight: InFlight = app.state.in_flight
    await in_flight.finish(grace_seconds=SHUTDOWN_GRACE_SECONDS)
    runtime: PushRuntime | None = getattr(app.state, "push_runtime", None)
    if runtime is not None:
        await runtime.shutdown(grace_seconds=SHUTDOWN_GRACE_SECONDS)


def create_app(
    services: Services,
    *,
    extra_routers: Sequence[APIRouter] = (),
    close_services_on_shutdown: bool = True,
) -> FastAPI:
    """The paydesk HTTP API around ``services``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await finish_background_work(app)
            if close_services_on_shutdown:
                await services.aclose()

    app = FastAPI(
        title="paydesk",
        version=__version__,
        summary="Self-hosted WeChat Pay for mini programs and the web",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.in_flight = InFlight()
    install_error_handlers(app)
    for router in (*ROUTERS, *extra_routers):
        app.include_router(router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=services.settings.max_body_bytes,
        too_large=too_large_response,
    )
    app.add_middleware(RequestLimitsMiddleware)
    app.add_middleware(RequestIdMiddleware, ids=services.ids)
    return app
