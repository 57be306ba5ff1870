"""Shared short-lived state: Redis when configured (``PAYDESK_REDIS_URL``), memory otherwise.

:func:`build_cache` returns one :class:`Cache` holding five stores, each a protocol with an
in-process implementation and a Redis one that behave the same:

============  =========================  ==============================  =========================
store         protocol                   without Redis                   with Redis
============  =========================  ==============================  =========================
``locks``     :class:`Locks`             :class:`MemoryLocks`            :class:`RedisLocks`
``tokens``    client ``TokenStore``      client ``MemoryTokenStore``     :class:`RedisTokenStore`
``limits``    :class:`RateLimiter`       :class:`MemoryRateLimiter`      :class:`RedisRateLimiter`
``sessions``  :class:`SessionStore`      the ``sessions`` table          :class:`RedisSessionStore`
``values``    :class:`KeyValue`          :class:`MemoryKeyValue`         :class:`RedisKeyValue`
============  =========================  ==============================  =========================

Every Redis key starts with ``prefix`` and has an expiry. In-process state suits one process
(the embedded SQLite setup); run several replicas only with Redis (docs/architecture.md).

>>> import asyncio
>>> from paydesk.db.engine import create_engine, session_factory
>>> database = session_factory(create_engine("sqlite+aiosqlite:///:memory:"))
>>> cache = build_cache(None, "paydesk:", database=database)
>>> cache.backend, asyncio.run(cache.limits.hit("pay:o-1", limit=1, window_seconds=1)).allowed
('memory', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.cache._redis import Keyspace
from paydesk.cache.clock import Clock, Timer, monotonic, utc_now
from paydesk.cache.errors import (
    CacheError,
    CacheUnavailable,
    CorruptEntry,
    DuplicateSession,
    LockTimeout,
)
from paydesk.cache.keyvalue import JSON, KeyValue, MemoryKeyValue, RedisKeyValue
from paydesk.cache.locks import Lease, Locks, MemoryLocks, RedisLocks
from paydesk.cache.ratelimit import Decision, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from paydesk.cache.sessions import (
    DatabaseSessionStore,
    NewSession,
    RedisSessionStore,
    SessionRecord,
    SessionStore,
)
from paydesk.cache.tokens import RedisTokenStore
from paydesk.client.tokens import MemoryTokenStore, TokenStore

__all__ = [
    "JSON",
    "Cache",
    "CacheError",
    "CacheUnavailable",
    "CorruptEntry",
    "DatabaseSessionStore",
    "Decision",
    "DuplicateSession",
    "KeyValue",
    "Lease",
    "LockTimeout",
    "Locks",
    "MemoryKeyValue",
    "MemoryLocks",
    "MemoryRateLimiter",
    "NewSession",
    "RateLimiter",
    "RedisKeyValue",
    "RedisLocks",
    "RedisRateLimiter",
    "RedisSessionStore",
    "RedisTokenStore",
    "SessionRecord",
    "SessionStore",
    "build_cache",
    "redis_cache",
]


@dataclass(frozen=True)
class Cache:
    """The stores of one process; build it with :func:`build_cache`, close it with ``aclose``."""

    backend: Literal["memory", "redis"]
    locks: Locks
    tokens: TokenStore
    limits: RateLimiter
    sessions: SessionStore
    values: KeyValue
    #: The Redis client the stores share (``None`` in memory).
    redis: Redis | None = None

    async def aclose(self) -> None:
        """Close the Redis connections, if any; the stores must not be used afterwards."""
        if self.redis is not None:
            await self.redis.aclose()


def build_cache(
    redis_url: str | None,
    prefix: str,
    *,
    database: async_sessionmaker[AsyncSession],
    clock: Clock = utc_now,
    timer: Timer = monotonic,
) -> Cache:
    """Redis stores under ``prefix`` if ``redis_url`` is set, else memory and ``database``.

    ``database`` serves the sessions when there is no Redis. Connecting is lazy: a wrong URL
    surfaces as :class:`CacheUnavailable` at the first command.
    """
    if redis_url:
        client = Redis.from_url(redis_url, decode_responses=True)
        return redis_cache(client, prefix, clock=clock, timer=timer)
    return Cache(
        backend="memory",
        locks=MemoryLocks(timer=timer),
        tokens=MemoryTokenStore(),
        limits=MemoryRateLimiter(timer=timer),
        sessions=DatabaseSessionStore(database, clock=clock),
        values=MemoryKeyValue(timer=timer),
    )


def redis_cache(
    client: Redis, prefix: str, *, clock: Clock = utc_now, timer: Timer = monotonic
) -> Cache:
    """The Redis stores on an existing ``client`` (made with ``decode_responses=True``).

    ``Cache.aclose`` closes ``client``.
    """
    keyspace = Keyspace(prefix)
    locks = RedisLocks(client, keyspace, timer=timer)
    return Cache(
        backend="redis",
        locks=locks,
        tokens=RedisTokenStore(client, keyspace, locks, clock=clock),
        limits=RedisRateLimiter(client, keyspace),
        sessions=RedisSessionStore(client, keyspace, clock=clock),
        values=RedisKeyValue(client, keyspace),
        redis=client,
    )
