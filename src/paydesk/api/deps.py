"""Dependencies as named ``Annotated`` aliases, so routes read like their contract.

async def get_order(order_id: str, services: ServicesDep, merchant: MerchantKey) -> ...
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.errors import DATABASE_UNAVAILABLE
from paydesk.db.models import ApiKey
from paydesk.domain import apikeys, idempotency
from paydesk.domain.context import Services
from paydesk.domain.errors import Unauthenticated

log = logging.getLogger(__name__)

#: An order id in a path: ours are ``ord_`` + 26 characters; anything much longer is refused
#: (400) before a lookup.
OrderId = Annotated[str, Path(min_length=1, max_length=64)]


def services_of(request: Request) -> Services:
    """The app's services container (for code that solves no dependencies, e.g. a LeanRoute)."""
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """The app's services container, as a dependency (:data:`ServicesDep`).

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in its thread
    pool (a thread hop on every request of every route that needs the services)."""
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session for reads; writes open their own ``session.begin()`` blocks."""
    async with services.db() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing_credentials", "send Authorization: Bearer <token>")
    return token.strip()


async def merchant_api_key(
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiKey:
    """The merchant backend's API key (``Authorization: Bearer pdk_…``)."""
    return await apikeys.authenticate_key(
        services.db, bearer(authorization), now=services.clock.now()
    )


MerchantKey = Annotated[ApiKey, Depends(merchant_api_key)]


async def idempotent(
    request: Request,
    services: Services,
    key: ApiKey,
    idempotency_key: str | None,
    body: Any,
    run: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> JSONResponse:
    """Run ``run`` under Stripe-style ``Idempotency-Key`` semantics (none given: just run it)."""
    if idempotency_key is None:
        status, payload = await run()
        return JSONResponse(payload, status_code=status)
    digest = idempotency.request_hash(request.method, request.url.path, body)
    outcome = await idempotency.begin(
        services.db,
        scope=key.id,
        key=idempotency_key,
        method=request.method,
        path=request.url.path,
        digest=digest,
        now=services.clock.now(),
        ids=services.ids,
    )
    if isinstance(outcome, idempotency.Replay):
        return JSONResponse(
            outcome.body, status_code=outcome.status, headers={"Idempotent-Replayed": "true"}
        )
    try:
        status, payload = await run()
    except BaseException:
        # Every failure here is transactional (nothing committed; a refund WeChat was asked
        # for is answered, never an error), so the same key may be retried: only a success
        # is stored and replayed.
        await idempotency.abandon(services.db, outcome)
        raise
    try:
        await idempotency.finish(services.db, outcome, status, json.loads(json.dumps(payload)))
    except DATABASE_UNAVAILABLE:
        # The work is done and committed: answering an error now would invite a second one.
        # The key stays claimed; a retry gets 409 idempotency_key_in_use until the claim is
        # stale (idempotency.STALE_LOCK).
        log.warning("API key %s: an Idempotency-Key response not stored (database down)", key.id)
    return JSONResponse(payload, status_code=status)
