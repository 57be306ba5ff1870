"""Every cache test runs once per implementation: ``memory`` always, ``redis`` when the run has
Redis (``PAYDESK_TEST_BACKEND=postgresql``). Tests take ``make_cache`` and call it once per
"replica": memory replicas share one process's state (one :class:`Cache`), each Redis replica
gets its own client on the same per-test key prefix.

Every command a Redis replica sends is recorded. After each test, every key it touched must
carry the test's prefix, every key left under the prefix must have an expiry, and then none
may be left once the fixture deletes them.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.cache import Cache, build_cache, redis_cache
from paydesk.cache.clock import Clock, utc_now
from paydesk.db.engine import create_engine, session_factory
from tests.backends import selected_backend
from tests.cache.replicas import MakeCache, RecordingRedis


def implementations() -> list[str]:
    """The implementations this run can test."""
    return ["memory", "redis"] if selected_backend() == "postgresql" else ["memory"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that asks for ``kind`` over :func:`implementations`."""
    if "kind" in metafunc.fixturenames:
        metafunc.parametrize("kind", implementations())


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """A key prefix of this test's own, inside the run's prefix."""
    return f"{redis_prefix}{secrets.token_hex(4)}:"


@pytest.fixture
async def make_cache(kind: str, redis_url: str | None, prefix: str) -> AsyncIterator[MakeCache]:
    """``await make_cache()``: one more replica (see the module docstring)."""
    # The session store is the only one that needs a database; tests of it pass their own.
    unused_engine = create_engine("sqlite+aiosqlite:///:memory:")
    replicas: list[Cache] = []
    clients: list[RecordingRedis] = []

    async def make(
        *, database: async_sessionmaker[AsyncSession] | None = None, clock: Clock = utc_now
    ) -> Cache:
        database = database or session_factory(unused_engine)
        if kind == "memory":
            if not replicas:
                replicas.append(build_cache(None, prefix, database=database, clock=clock))
            return replicas[0]
        assert redis_url is not None, "the redis implementation runs only where Redis is"
        client = RecordingRedis.connect(redis_url)
        clients.append(client)
        cache = redis_cache(client, prefix, clock=clock)
        replicas.append(cache)
        return cache

    yield make
    for cache in replicas:
        await cache.aclose()
    await unused_engine.dispose()
    if clients:
        await _check_and_clear(redis_url, prefix, [k for c in clients for k in c.touched])


async def _check_and_clear(redis_url: str | None, prefix: str, touched: list[str]) -> None:
    assert redis_url is not None
    strays = sorted({key for key in touched if not key.startswith(prefix)})
    assert not strays, f"keys written outside the prefix {prefix!r}: {strays}"
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        left = [key async for key in client.scan_iter(match=f"{prefix}*")]
        for key in left:
            # -2 (expired since the scan) is fine; -1 would mean the key never expires.
            assert await client.pttl(key) != -1, f"{key} has no expiry: it would outlive the run"
        if left:
            await client.delete(*left)
        assert [key async for key in client.scan_iter(match=f"{prefix}*")] == []
    finally:
        await client.aclose()
