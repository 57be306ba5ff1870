"""Rate limits over a sliding window (a sliding log): at most ``limit`` hits in any ``window``.

Each allowed hit is recorded with its time; a hit is allowed while fewer than ``limit``
recorded hits are younger than ``window_seconds``. A denied hit is not recorded, so a client
that keeps hammering is let in again as soon as its oldest hit leaves the window, and
``retry_after`` says exactly when. Unlike a fixed window, no burst of ``2 × limit`` fits
across a window boundary — which matters for a login limit.

Memory and Redis run the same algorithm; in Redis it is one Lua script on a sorted set, so
concurrent hits from many replicas are counted exactly, timed by the Redis server's clock.

>>> import asyncio
>>> limiter = MemoryRateLimiter()
>>> [asyncio.run(limiter.hit("login:203.0.113.9", limit=2, window_seconds=60)).allowed
...  for _ in range(3)]
[True, True, False]
"""

from __future__ import annotations

import math
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from paydesk.cache._redis import Keyspace, Redis, redis_errors
from paydesk.cache.clock import Timer, monotonic

__all__ = ["Decision", "MemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]

# KEYS[1]: the log (score = hit time in µs); ARGV: limit, window in µs, a unique member.
# Redis's TIME, not the caller's clock: every replica then measures on one clock.
_HIT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
    return {1, limit - count - 1, 0}
end
-- The hit whose leaving brings the count below the limit (the oldest, unless the limit shrank).
local freeing = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, 0, tonumber(freeing[2]) + window - now}
"""


@dataclass(frozen=True)
class Decision:
    """Whether a hit is allowed, how many more fit in the window, and when to try again.

    >>> Decision(allowed=False, remaining=0, retry_after=1.2).retry_after_header
    '2'
    """

    allowed: bool
    #: Hits still allowed in the current window after this one.
    remaining: int
    #: Seconds until a hit would be allowed again (0.0 when this one was).
    retry_after: float

    @property
    def retry_after_header(self) -> str:
        """``retry_after`` as an HTTP ``Retry-After`` value: whole seconds, rounded up."""
        return str(math.ceil(self.retry_after))


class RateLimiter(Protocol):
    """Counts hits per key; see the module docstring for the algorithm."""

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> Decision:
        """Record a hit on ``key`` if fewer than ``limit`` fell in the last ``window_seconds``."""
        ...


def _check(limit: int, window_seconds: float) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit!r}")
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, not {window_seconds!r}")


@dataclass
class _Log:
    window: float
    hits: deque[float] = field(default_factory=deque)


class MemoryRateLimiter:
    """:class:`RateLimiter` for one process, timed by ``timer`` (monotonic seconds)."""

    #: Forget idle keys after this many hits, so one-off keys (client IPs) do not pile up.
    SWEEP_EVERY = 1000

    def __init__(self, *, timer: Timer = monotonic) -> None:
        self._timer = timer
        self._logs: dict[str, _Log] = {}
        self._hits_since_sweep = 0

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> Decision:
        """Record a hit on ``key`` if the window has room (see :meth:`RateLimiter.hit`)."""
        _check(limit, window_seconds)
        now = self._timer()
        self._sweep(now)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log(window_seconds)
        log.window = window_seconds
        while log.hits and log.hits[0] <= now - window_seconds:
            log.hits.popleft()
        if len(log.hits) < limit:
            log.hits.append(now)
            return Decision(allowed=True, remaining=limit - len(log.hits), retry_after=0.0)
        freeing = log.hits[len(log.hits) - limit]  # the oldest, unless the limit shrank
        return Decision(allowed=False, remaining=0, retry_after=freeing + window_seconds - now)

    def _sweep(self, now: float) -> None:
        self._hits_since_sweep += 1
        if self._hits_since_sweep < self.SWEEP_EVERY:
            return
        self._hits_since_sweep = 0
        idle = [
            k for k, log in self._logs.items() if not log.hits or log.hits[-1] <= now - log.window
        ]
        for key in idle:
            del self._logs[key]


class RedisRateLimiter:
    """:class:`RateLimiter` shared by every process on the same Redis and prefix.

    The log lives under ``<prefix>rate:<key>`` and expires one window after its last hit.
    """

    def __init__(self, client: Redis, keyspace: Keyspace) -> None:
        self._keys = keyspace
        self._hit_script = client.register_script(_HIT)

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> Decision:
        """Record a hit on ``key`` if the window has room (see :meth:`RateLimiter.hit`)."""
        _check(limit, window_seconds)
        window_us = max(1, round(window_seconds * 1_000_000))
        with redis_errors(f"count a hit on {key!r}"):
            allowed, remaining, retry_us = await self._hit_script(
                keys=[self._keys.key("rate", key)],
                args=[limit, window_us, secrets.token_hex(8)],
            )
        return Decision(
            allowed=bool(allowed), remaining=int(remaining), retry_after=int(retry_us) / 1_000_000
        )
