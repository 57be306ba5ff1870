"""``build_cache``: Redis when a URL is given, memory and the database otherwise; Redis failures
surface as ``CacheUnavailable`` from every store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.cache import (
    Cache,
    CacheUnavailable,
    DatabaseSessionStore,
    MemoryKeyValue,
    MemoryLocks,
    MemoryRateLimiter,
    NewSession,
    RedisKeyValue,
    RedisLocks,
    RedisRateLimiter,
    RedisSessionStore,
    RedisTokenStore,
    build_cache,
)
from paydesk.client.tokens import CachedToken, MemoryTokenStore
from paydesk.db.engine import create_engine, session_factory

pytestmark = pytest.mark.backends

#: Nothing listens on port 1, so every command fails to connect.
NOWHERE = "redis://127.0.0.1:1/0"
T0 = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
async def database() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    yield session_factory(engine)
    await engine.dispose()


async def test_without_a_url_the_stores_are_in_memory_and_the_database(
    database: async_sessionmaker[AsyncSession],
) -> None:
    cache = build_cache(None, "paydesk:", database=database)

    assert cache.backend == "memory"
    assert cache.redis is None
    assert isinstance(cache.locks, MemoryLocks)
    assert isinstance(cache.tokens, MemoryTokenStore)
    assert isinstance(cache.limits, MemoryRateLimiter)
    assert isinstance(cache.sessions, DatabaseSessionStore)
    assert isinstance(cache.values, MemoryKeyValue)
    await cache.aclose()


async def test_with_a_url_every_store_is_in_redis(
    database: async_sessionmaker[AsyncSession],
) -> None:
    cache = build_cache(NOWHERE, "paydesk:", database=database)

    assert cache.backend == "redis"
    assert cache.redis is not None
    assert isinstance(cache.locks, RedisLocks)
    assert isinstance(cache.tokens, RedisTokenStore)
    assert isinstance(cache.limits, RedisRateLimiter)
    assert isinstance(cache.sessions, RedisSessionStore)
    assert isinstance(cache.values, RedisKeyValue)
    await cache.aclose()


async def test_the_cache_built_for_this_run_works_end_to_end(
    kind: str, redis_url: str | None, prefix: str, database: async_sessionmaker[AsyncSession]
) -> None:
    cache = build_cache(redis_url if kind == "redis" else None, prefix, database=database)
    try:
        assert cache.backend == kind
        await cache.values.set("k", {"ok": True}, ttl=60)
        assert await cache.values.take("k") == {"ok": True}
        async with cache.locks.lock("k", ttl=5, wait=0):
            assert (await cache.limits.hit("k", limit=1, window_seconds=0.01)).allowed
    finally:
        await cache.aclose()


NEW = NewSession(
    session_id="ses_1", user_id="usr_1", appid="wx1", openid="o-1", token_hash="0" * 64,
    session_key="k==", created_at=T0, expires_at=T0 + timedelta(hours=1),
)  # fmt: skip

OPERATIONS: dict[str, Callable[[Cache], Awaitable[object]]] = {
    "locks.lock": lambda cache: _enter_lock(cache),
    "tokens.get": lambda cache: cache.tokens.get("wx1"),
    "tokens.put": lambda cache: cache.tokens.put("wx1", CachedToken("T", expires_at=2**40)),
    "tokens.invalidate": lambda cache: cache.tokens.invalidate("wx1", "T"),
    "limits.hit": lambda cache: cache.limits.hit("k", limit=1, window_seconds=1),
    "sessions.create": lambda cache: cache.sessions.create(NEW),
    "sessions.get": lambda cache: cache.sessions.get("0" * 64),
    "sessions.revoke": lambda cache: cache.sessions.revoke("0" * 64),
    "values.get": lambda cache: cache.values.get("k"),
    "values.set": lambda cache: cache.values.set("k", 1, ttl=1),
    "values.take": lambda cache: cache.values.take("k"),
    "values.delete": lambda cache: cache.values.delete("k"),
}


async def _enter_lock(cache: Cache) -> None:
    async with cache.locks.lock("k", ttl=1, wait=0):
        pytest.fail("took a lock without Redis")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_an_unreachable_redis_is_reported_as_cache_unavailable(
    operation: str, database: async_sessionmaker[AsyncSession]
) -> None:
    cache = build_cache(NOWHERE, "paydesk:", database=database)
    try:
        with pytest.raises(CacheUnavailable, match=r"^Redis failed to ") as raised:
            await OPERATIONS[operation](cache)
        assert isinstance(raised.value.__cause__, RedisConnectionError)
    finally:
        await cache.aclose()
