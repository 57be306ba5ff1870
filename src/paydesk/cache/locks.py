"""Named mutual-exclusion locks with a time to live: in process memory, or in Redis for many.

``async with locks.lock("token:wx1", ttl=30, wait=35):`` runs the block while no other holder
of the same name does — across tasks with :class:`MemoryLocks`, across processes and hosts with
:class:`RedisLocks`. Both behave the same way:

- a holder that never releases (it died, or hangs) loses the lock after ``ttl`` seconds;
- only the holder releases: a holder whose lock expired and was taken by another cannot
  release the new holder's lock on the way out;
- a caller waits up to ``wait`` seconds, then gets :class:`~paydesk.cache.errors.LockTimeout`.

``ttl`` must outlast the block; a lock is a tool for efficiency (one token refresh instead of
fifty), not for correctness that must survive a paused process — that is what database
constraints are for.

>>> async def demo() -> str:
...     locks = MemoryLocks()
...     async with locks.lock("report", ttl=5, wait=0) as lease:
...         return lease.name
>>> asyncio.run(demo())
'report'
"""

from __future__ import annotations

import asyncio
import hmac
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol

from paydesk.cache._redis import Keyspace, Redis, milliseconds, redis_errors
from paydesk.cache.clock import Timer, monotonic
from paydesk.cache.errors import CacheUnavailable, LockTimeout

__all__ = ["Lease", "Locks", "MemoryLocks", "RedisLocks"]

#: First and longest pause between two attempts on a taken Redis lock (seconds).
FIRST_POLL = 0.005
LONGEST_POLL = 0.1

# Delete the key only if it still holds our token: a plain DEL after GET could remove a lock
# that expired in between and now belongs to someone else (redis.io/docs/latest/commands/set).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Lease:
    """A held lock: its name and the random token that proves who holds it."""

    name: str
    token: str = field(repr=False)


class Locks(Protocol):
    """Named locks with a time to live (see the module docstring for the guarantees)."""

    def lock(self, name: str, *, ttl: float, wait: float) -> AbstractAsyncContextManager[Lease]:
        """Hold ``name`` for the ``async with`` block, for at most ``ttl`` seconds.

        Waits up to ``wait`` seconds (0: try once) for another holder, then raises
        :class:`~paydesk.cache.errors.LockTimeout`.
        """
        ...


def _check(ttl: float, wait: float) -> None:
    if ttl <= 0:
        raise ValueError(f"ttl must be positive, not {ttl!r}")
    if wait < 0:
        raise ValueError(f"wait must not be negative, not {wait!r}")


def _raise_if_cancelled() -> None:
    # redis-py sends each command through asyncio.wait_for, which on Python 3.11 can swallow
    # a cancellation that lands as the command completes (github.com/python/cpython/issues/86296,
    # fixed in 3.12). The request is still counted on the task: honour it, or a cancelled
    # waiter would go on polling and take the lock for nobody. Memory checks too, to match.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass
class _Slot:
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)
    owner: str | None = None
    expires_at: float = 0.0
    waiters: int = 0


class MemoryLocks:
    """:class:`Locks` for the tasks of one process.

    Not a bare ``asyncio.Lock``: that one never expires, and a holder that hangs would block
    everyone forever, where the Redis lock frees itself after ``ttl``.
    """

    def __init__(self, *, timer: Timer = monotonic) -> None:
        self._timer = timer
        self._slots: dict[str, _Slot] = {}

    @asynccontextmanager
    async def lock(self, name: str, *, ttl: float, wait: float) -> AsyncIterator[Lease]:
        """Hold ``name`` for the block (see :meth:`Locks.lock`)."""
        _check(ttl, wait)
        lease = Lease(name, secrets.token_hex(16))
        await self._acquire(lease, ttl, wait)
        try:
            yield lease
        finally:
            await self._release(lease)

    async def _acquire(self, lease: Lease, ttl: float, wait: float) -> None:
        slot = self._slots.get(lease.name)
        if slot is None:
            slot = self._slots[lease.name] = _Slot()
        deadline = self._timer() + wait
        slot.waiters += 1
        try:
            async with slot.condition:
                while True:
                    _raise_if_cancelled()
                    now = self._timer()
                    if slot.owner is None or slot.expires_at <= now:
                        slot.owner, slot.expires_at = lease.token, now + ttl
                        return
                    if now >= deadline:
                        raise LockTimeout(lease.name, wait=wait)
                    # Wake on a release, or when the holder's ttl or our wait runs out.
                    with suppress(TimeoutError):
                        async with asyncio.timeout(min(deadline, slot.expires_at) - now):
                            await slot.condition.wait()
        finally:
            slot.waiters -= 1

    async def _release(self, lease: Lease) -> None:
        slot = self._slots.get(lease.name)
        if slot is None or slot.owner is None or not hmac.compare_digest(slot.owner, lease.token):
            return  # expired and taken over (or freed): not ours to release
        slot.owner = None
        if slot.waiters == 0:
            del self._slots[lease.name]
            return
        async with slot.condition:
            slot.condition.notify_all()


class RedisLocks:
    """:class:`Locks` shared by every process that uses the same Redis and prefix.

    Taking the lock is ``SET key token NX PX ttl``; a waiter polls, backing off from 5 ms to
    100 ms with jitter; releasing is a compare-and-delete script (the token must still match).
    """

    def __init__(self, client: Redis, keyspace: Keyspace, *, timer: Timer = monotonic) -> None:
        self._client = client
        self._keys = keyspace
        self._timer = timer
        self._release_script = client.register_script(_RELEASE)

    @asynccontextmanager
    async def lock(self, name: str, *, ttl: float, wait: float) -> AsyncIterator[Lease]:
        """Hold ``name`` for the block (see :meth:`Locks.lock`)."""
        _check(ttl, wait)
        lease = Lease(name, secrets.token_hex(16))
        key = self._keys.key("lock", name)
        try:
            await self._acquire(key, lease, ttl, wait)
        except asyncio.CancelledError:
            # A cancelled SET may still have landed on the server: take back what may be ours.
            with suppress(CacheUnavailable):
                await asyncio.shield(self._release(key, lease))
            raise
        try:
            yield lease
        finally:
            await self._release(key, lease)

    async def _acquire(self, key: str, lease: Lease, ttl: float, wait: float) -> None:
        deadline = self._timer() + wait
        pause = FIRST_POLL
        while True:
            with redis_errors(f"take lock {lease.name!r}"):
                taken = await self._client.set(key, lease.token, nx=True, px=milliseconds(ttl))
            _raise_if_cancelled()
            if taken:
                return
            left = deadline - self._timer()
            if left <= 0:
                raise LockTimeout(lease.name, wait=wait)
            # Jitter spreads waiters from many processes apart; it needs no cryptographic quality.
            await asyncio.sleep(min(left, pause * random.uniform(0.5, 1.5)))  # noqa: S311
            pause = min(pause * 2, LONGEST_POLL)

    async def _release(self, key: str, lease: Lease) -> None:
        with redis_errors(f"release lock {lease.name!r}"):
            await self._release_script(keys=[key], args=[lease.token])
