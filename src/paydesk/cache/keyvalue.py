"""Small JSON values that expire: OAuth ``state``, pay tickets and the like.

Every value has a time to live (nothing is kept forever) and round-trips through JSON in both
implementations, so a tuple comes back as a list in memory exactly as it does from Redis.
``take`` reads and deletes in one step, for values that must be used once (an OAuth
``state`` replayed is refused because the first ``take`` removed it).

>>> import asyncio
>>> async def demo() -> object:
...     values = MemoryKeyValue()
...     await values.set("oauth:st_1", {"return_to": "/pay"}, ttl=300)
...     return await values.take("oauth:st_1"), await values.get("oauth:st_1")
>>> asyncio.run(demo())
({'return_to': '/pay'}, None)
"""

from __future__ import annotations

import json
from typing import Protocol, TypeAlias

from paydesk.cache._redis import Keyspace, Redis, milliseconds, redis_errors
from paydesk.cache.clock import Timer, monotonic
from paydesk.cache.errors import CorruptEntry

__all__ = ["JSON", "KeyValue", "MemoryKeyValue", "RedisKeyValue"]

#: A value that survives ``json.dumps`` / ``json.loads``.
JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"


class KeyValue(Protocol):
    """JSON values by key, each with a time to live. A stored ``null`` reads as missing."""

    async def get(self, key: str) -> JSON:
        """The value under ``key``, or ``None`` if there is none (or it expired)."""
        ...

    async def set(self, key: str, value: JSON, *, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""
        ...

    async def take(self, key: str) -> JSON:
        """Read and delete ``key`` in one step; ``None`` if there was nothing."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens if it is absent)."""
        ...


def _check(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError(f"ttl must be positive, not {ttl!r}")


def _decode(raw: str | bytes | None, key: str) -> JSON:
    if raw is None:
        return None
    try:
        value: JSON = json.loads(raw)
    except ValueError as exc:
        raise CorruptEntry(key) from exc
    return value


class MemoryKeyValue:
    """:class:`KeyValue` in this process, expiring by ``timer`` (monotonic seconds)."""

    def __init__(self, *, timer: Timer = monotonic) -> None:
        self._timer = timer
        self._values: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> JSON:
        """The live value under ``key``, or ``None``."""
        return _decode(self._live(key), key)

    async def set(self, key: str, value: JSON, *, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        _check(ttl)
        self._values[key] = (json.dumps(value), self._timer() + ttl)

    async def take(self, key: str) -> JSON:
        """Read and delete ``key``."""
        raw = self._live(key)
        self._values.pop(key, None)
        return _decode(raw, key)

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        self._values.pop(key, None)

    def _live(self, key: str) -> str | None:
        stored = self._values.get(key)
        if stored is None:
            return None
        raw, expires_at = stored
        if expires_at <= self._timer():
            del self._values[key]
            return None
        return raw


class RedisKeyValue:
    """:class:`KeyValue` in Redis under ``<prefix>kv:<key>``; Redis expires the keys."""

    def __init__(self, client: Redis, keyspace: Keyspace) -> None:
        self._client = client
        self._keys = keyspace

    async def get(self, key: str) -> JSON:
        """The live value under ``key``, or ``None``."""
        with redis_errors(f"read {key!r}"):
            raw = await self._client.get(self._keys.key("kv", key))
        return _decode(raw, key)

    async def set(self, key: str, value: JSON, *, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        _check(ttl)
        with redis_errors(f"store {key!r}"):
            await self._client.set(
                self._keys.key("kv", key), json.dumps(value), px=milliseconds(ttl)
            )

    async def take(self, key: str) -> JSON:
        """Read and delete ``key`` (``GETDEL``, atomic)."""
        with redis_errors(f"take {key!r}"):
            raw = await self._client.getdel(self._keys.key("kv", key))
        return _decode(raw, key)

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        with redis_errors(f"delete {key!r}"):
            await self._client.delete(self._keys.key("kv", key))
