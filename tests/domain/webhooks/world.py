"""A small world for webhook tests: a pinned clock, reproducible ids, events and endpoints.

Its ``clock`` and ``ids`` fixtures are those of every test in ``tests/domain/webhooks`` and
``tests/workers``: each of those conftests imports them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.domain.clock import Clock, FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.outbox import add_event
from paydesk.domain.webhooks import add_endpoint

T0 = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
MCHID = "1900000001"
OTHER_MCHID = "1900000002"
URL = "https://shop.example/webhooks/paydesk"


def reproducible_ids(clock: Clock, seed: int = 0) -> IdSource:
    """Ids and secrets from a seeded generator: different from each other, same every run."""
    return IdSource(clock, random.Random(seed).randbytes)


@pytest.fixture
def clock() -> FixedClock:
    """The world's time: pinned at ``T0``."""
    return FixedClock(T0)


@pytest.fixture
def ids(clock: FixedClock) -> IdSource:
    """Reproducible ids on ``clock``."""
    return reproducible_ids(clock)


async def new_event(
    db: async_sessionmaker[AsyncSession],
    *,
    ids: IdSource,
    clock: Clock,
    type: str = "order.paid",
    mchid: str = MCHID,
    data: dict[str, Any] | None = None,
) -> str:
    """Write one outbox event (committed) and return its id."""
    async with db.begin() as session:
        event = await add_event(
            session,
            ids=ids,
            type=type,
            mchid=mchid,
            data=data if data is not None else {"order_id": "ord_1", "amount": 100},
            now=clock.now(),
        )
        return event.id


async def new_endpoint(
    db: async_sessionmaker[AsyncSession],
    *,
    ids: IdSource,
    clock: Clock,
    url: str = URL,
    mchid: str = MCHID,
) -> tuple[str, str]:
    """Register an endpoint (committed); returns ``(endpoint_id, secret)``."""
    async with db.begin() as session:
        endpoint, secret = await add_endpoint(
            session, mchid=mchid, url=url, ids=ids, now=clock.now()
        )
        return endpoint.id, secret
