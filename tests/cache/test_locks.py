"""Locks: one holder at a time across tasks and replicas, expiry of a dead holder, release only
by the holder, a bounded wait — the same for the memory and the Redis implementation."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest

from paydesk.cache import Cache, LockTimeout
from tests.cache.replicas import MakeCache

pytestmark = pytest.mark.backends

# A separate process that takes a lock and hangs until it is killed (kill -9: no cleanup).
_HOLD_UNTIL_KILLED = """
import asyncio, sys
from redis.asyncio import Redis
from paydesk.cache import redis_cache

async def main() -> None:
    cache = redis_cache(Redis.from_url(sys.argv[1], decode_responses=True), sys.argv[2])
    async with cache.locks.lock(sys.argv[3], ttl=float(sys.argv[4]), wait=0):
        print("held", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def _taken(cache: Cache, name: str) -> bool:
    """Whether ``name`` is held by someone (a try with ``wait=0`` fails)."""
    try:
        async with cache.locks.lock(name, ttl=1, wait=0):
            return False
    except LockTimeout:
        return True


@asynccontextmanager
async def _holder_that_dies(
    kind: str, cache: Cache, name: str, ttl: float, redis_url: str | None, prefix: str
) -> AsyncIterator[float]:
    """Take ``name`` for ``ttl`` and die holding it: a killed process (Redis), or a task that
    hangs forever inside the lock (memory, where a dead process takes its locks with it).
    Yields when (``time.monotonic``) the holder was seen holding the lock."""
    if kind == "redis":
        assert redis_url is not None
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _HOLD_UNTIL_KILLED,
            redis_url,
            prefix,
            name,
            str(ttl),
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"held\n"
        held_at = time.monotonic()
        process.kill()
        await process.communicate()
        yield held_at
        return
    held = asyncio.Event()

    async def hang() -> None:
        async with cache.locks.lock(name, ttl=ttl, wait=0):
            held.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hang())
    await held.wait()
    try:
        yield time.monotonic()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_twenty_tasks_on_two_replicas_never_hold_the_lock_together(
    make_cache: MakeCache,
) -> None:
    replicas = [await make_cache(), await make_cache()]
    inside = most_inside = total = 0

    async def increment(worker: int) -> None:
        nonlocal inside, most_inside, total
        async with replicas[worker % 2].locks.lock("counter", ttl=10, wait=30):
            inside += 1
            most_inside = max(most_inside, inside)
            seen = total
            await asyncio.sleep(0.002)  # a lost update shows if another holder got in here
            total = seen + 1
            inside -= 1

    await asyncio.gather(*(increment(worker) for worker in range(20)))

    assert (most_inside, total) == (1, 20)


async def test_a_holder_that_dies_loses_the_lock_after_its_ttl(
    kind: str, make_cache: MakeCache, redis_url: str | None, prefix: str
) -> None:
    cache = await make_cache()
    ttl = 1.0
    async with _holder_that_dies(kind, cache, "report", ttl, redis_url, prefix) as held_at:
        assert await _taken(cache, "report")
        async with cache.locks.lock("report", ttl=5, wait=5):
            waited = time.monotonic() - held_at

    assert ttl - 0.2 <= waited <= ttl + 1.0


async def test_only_the_holder_releases_the_lock(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    first_holds, second_holds, first_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def outlive_the_ttl() -> None:
        async with first.locks.lock("job", ttl=0.2, wait=0):
            first_holds.set()
            await second_holds.wait()  # our ttl ran out and someone else took the lock
        first_done.set()

    async def take_over() -> None:
        await first_holds.wait()
        async with second.locks.lock("job", ttl=10, wait=5):
            second_holds.set()
            await first_done.wait()
            # The expired holder left its block (and tried to release): we must still hold.
            assert await _taken(first, "job")
            assert await _taken(second, "job")

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(outlive_the_ttl())
        tasks.create_task(take_over())

    assert not await _taken(first, "job")


async def test_a_waiter_gives_up_after_wait_seconds(make_cache: MakeCache) -> None:
    cache = await make_cache()
    async with cache.locks.lock("nightly", ttl=10, wait=0):
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            async with cache.locks.lock("nightly", ttl=10, wait=0.3):
                pytest.fail("entered a lock that is held")
        waited = time.monotonic() - started

    assert 0.3 <= waited < 1.5
    assert (raised.value.name, raised.value.wait) == ("nightly", 0.3)


async def test_a_waiter_enters_when_the_holder_releases(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    order: list[str] = []
    first_in = asyncio.Event()

    async def hold() -> None:
        async with first.locks.lock("sweep", ttl=10, wait=0):
            order.append("first in")
            first_in.set()
            await asyncio.sleep(0.1)
            order.append("first out")

    async def wait_then_hold() -> None:
        await first_in.wait()
        async with second.locks.lock("sweep", ttl=10, wait=5):
            order.append("second in")

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(hold())
        tasks.create_task(wait_then_hold())

    assert order == ["first in", "first out", "second in"]


async def test_locks_with_different_names_do_not_block_each_other(make_cache: MakeCache) -> None:
    cache = await make_cache()
    async with (
        cache.locks.lock("a", ttl=10, wait=0) as a,
        cache.locks.lock("b", ttl=10, wait=0) as b,
    ):
        assert (a.name, b.name) == ("a", "b")


async def test_the_lock_is_released_when_the_block_raises(make_cache: MakeCache) -> None:
    cache = await make_cache()
    with pytest.raises(KeyError):
        async with cache.locks.lock("flaky", ttl=10, wait=0):
            raise KeyError("boom")

    assert not await _taken(cache, "flaky")


async def test_a_cancelled_waiter_leaves_nothing_behind(make_cache: MakeCache) -> None:
    cache = await make_cache()
    async with cache.locks.lock("settle", ttl=10, wait=0):
        waiter = asyncio.create_task(_enter(cache, "settle"))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    assert not await _taken(cache, "settle")


async def test_a_cancellation_swallowed_on_the_way_is_still_honoured(
    make_cache: MakeCache,
) -> None:
    cache = await make_cache()

    async def cancelled_then_lock() -> None:
        this = asyncio.current_task()
        assert this is not None
        this.cancel()
        # What asyncio.wait_for inside redis-py can do on Python 3.11 (cpython#86296):
        with suppress(asyncio.CancelledError):
            await asyncio.sleep(1)
        await _enter(cache, "settle")

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(cancelled_then_lock())

    assert not await _taken(cache, "settle")


async def _enter(cache: Cache, name: str) -> None:
    async with cache.locks.lock(name, ttl=10, wait=10):
        pytest.fail("entered a lock that is held")


async def test_each_lease_has_its_own_secret_token(make_cache: MakeCache) -> None:
    cache = await make_cache()
    async with cache.locks.lock("a", ttl=10, wait=0) as first:
        pass
    async with cache.locks.lock("a", ttl=10, wait=0) as second:
        pass

    assert first.token != second.token
    assert first.token not in repr(first)


@pytest.mark.parametrize(("ttl", "wait"), [(0, 1), (-1, 1), (1, -0.5)])
async def test_a_lock_needs_a_positive_ttl_and_a_wait_of_at_least_zero(
    make_cache: MakeCache, ttl: float, wait: float
) -> None:
    cache = await make_cache()
    with pytest.raises(ValueError, match=r"^(ttl|wait) must"):
        async with cache.locks.lock("x", ttl=ttl, wait=wait):
            pytest.fail("entered with invalid arguments")
