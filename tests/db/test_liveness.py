"""Pinging only idle pooled connections: a dead idle one is replaced, a busy pool pays nothing.

Runs against the real PostgreSQL server (a database of its own), whatever backend the run
selected: the ping exists for PostgreSQL only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from paydesk.db.engine import create_engine
from paydesk.db.liveness import ping_when_idle
from tests.db.postgres import backend_pid, kill


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pinging(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, Clock]]:
    """A one-connection pool that pings connections idle over 2 s, on a clock moved by hand."""
    clock = Clock()
    engine = create_async_engine(postgres_url, pool_size=1, max_overflow=1)
    ping_when_idle(engine, after_seconds=2.0, clock=clock)
    try:
        yield engine, clock
    finally:
        await engine.dispose()


async def test_an_idle_connection_the_server_ended_is_replaced_before_use(
    postgres_url: str, pinging: tuple[AsyncEngine, Clock]
) -> None:
    engine, clock = pinging
    first = await backend_pid(engine)
    await kill(postgres_url, first)
    clock.now += 2.5  # idle long enough: pinged at checkout, found dead, replaced

    second = await backend_pid(engine)

    assert second != first


async def test_a_connection_back_only_a_moment_ago_is_not_pinged(
    postgres_url: str, pinging: tuple[AsyncEngine, Clock]
) -> None:
    engine, clock = pinging
    first = await backend_pid(engine)
    await kill(postgres_url, first)
    clock.now += 1.0  # not idle long: handed out unpinged, so the dead socket shows

    with pytest.raises(DBAPIError) as failed:
        await backend_pid(engine)

    assert failed.value.connection_invalidated
    assert await backend_pid(engine) != first  # the pool replaced it right after


def test_paydesk_engines_ping_idle_connections_instead_of_every_checkout() -> None:
    engine = create_engine("postgresql://paydesk@db/paydesk")

    assert not engine.pool._pre_ping  # type: ignore[attr-defined]
    assert engine.pool.size() == 20  # type: ignore[attr-defined]


def test_a_caller_asking_for_pre_ping_gets_it() -> None:
    engine = create_engine("postgresql://paydesk@db/paydesk", pool_pre_ping=True)

    assert engine.pool._pre_ping  # type: ignore[attr-defined]
