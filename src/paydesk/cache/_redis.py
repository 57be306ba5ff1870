"""What every Redis-backed store shares: the client type, key names, error mapping, decoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis import RedisError
from redis.asyncio import Redis

from paydesk.cache.errors import CacheUnavailable, CorruptEntry

__all__ = ["Keyspace", "Redis", "decode_object", "milliseconds", "redis_errors"]


class Keyspace:
    """Builds every key under one prefix, so that a deployment's keys are easy to find and drop.

    >>> Keyspace("paydesk:").key("lock", "token:wx1")
    'paydesk:lock:token:wx1'
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, kind: str, name: str) -> str:
        """``<prefix><kind>:<name>``."""
        return f"{self.prefix}{kind}:{name}"


@contextmanager
def redis_errors(action: str) -> Iterator[None]:
    """Map Redis's exceptions to :class:`CacheUnavailable`, once, where a command is sent."""
    try:
        yield
    except RedisError as exc:
        raise CacheUnavailable(f"Redis failed to {action}: {exc}") from exc


def decode_object(raw: Any, key: str) -> dict[str, Any]:
    """The JSON object stored under ``key``; :class:`CorruptEntry` if it is anything else.

    >>> decode_object('{"a": 1}', "k")
    {'a': 1}
    """
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise CorruptEntry(key) from exc
    if not isinstance(value, dict):
        raise CorruptEntry(key)
    return value


def milliseconds(seconds: float) -> int:
    """A positive duration in whole milliseconds, at least 1 (Redis refuses ``PX 0``).

    >>> milliseconds(0.25), milliseconds(0.0001)
    (250, 1)
    """
    return max(1, round(seconds * 1000))
