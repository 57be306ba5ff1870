"""Rate limits: exactly ``limit`` hits in any window, then a denial saying when to come back —
the same sliding log in memory and in Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from paydesk.cache import Decision, MemoryRateLimiter
from tests.cache.replicas import MakeCache

pytestmark = pytest.mark.backends


async def test_exactly_limit_hits_are_allowed_then_the_rest_denied(make_cache: MakeCache) -> None:
    cache = await make_cache()

    decisions = [
        await cache.limits.hit("login:203.0.113.9", limit=5, window_seconds=60) for _ in range(7)
    ]

    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    assert all(d.retry_after == 0 for d in decisions[:5])
    for denied in decisions[5:]:
        assert 59 < denied.retry_after <= 60
        assert denied.retry_after_header == "60"


async def test_concurrent_hits_from_two_replicas_are_counted_exactly(
    make_cache: MakeCache,
) -> None:
    replicas = [await make_cache(), await make_cache()]

    decisions = await asyncio.gather(
        *(replicas[n % 2].limits.hit("pay:o-1", limit=10, window_seconds=60) for n in range(50))
    )

    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))


async def test_hits_are_allowed_again_once_the_oldest_leaves_the_window(
    make_cache: MakeCache,
) -> None:
    cache = await make_cache()
    window = 1.0
    first_hit = time.monotonic()
    for _ in range(2):
        assert (await cache.limits.hit("k", limit=2, window_seconds=window)).allowed
    await asyncio.sleep(0.4)

    denied = await cache.limits.hit("k", limit=2, window_seconds=window)
    # Sliding, not fixed: the wait is what is left of the oldest hit's window.
    assert not denied.allowed
    assert denied.retry_after == pytest.approx(first_hit + window - time.monotonic(), abs=0.05)
    await asyncio.sleep(denied.retry_after + 0.05)

    again = await cache.limits.hit("k", limit=2, window_seconds=window)
    assert again == Decision(allowed=True, remaining=1, retry_after=0.0)  # both hits left


async def test_denied_hits_are_not_counted(make_cache: MakeCache) -> None:
    cache = await make_cache()
    assert (await cache.limits.hit("k", limit=1, window_seconds=0.3)).allowed
    for _ in range(5):  # hammering while denied does not push the reopening further out
        assert not (await cache.limits.hit("k", limit=1, window_seconds=0.3)).allowed
    await asyncio.sleep(0.35)

    assert (await cache.limits.hit("k", limit=1, window_seconds=0.3)).allowed


async def test_each_key_has_its_own_window(make_cache: MakeCache) -> None:
    cache = await make_cache()
    assert (await cache.limits.hit("login:a", limit=1, window_seconds=60)).allowed
    assert not (await cache.limits.hit("login:a", limit=1, window_seconds=60)).allowed

    assert (await cache.limits.hit("login:b", limit=1, window_seconds=60)).allowed


async def test_a_lower_limit_waits_until_enough_hits_have_left(make_cache: MakeCache) -> None:
    cache = await make_cache()
    hit_at = []
    for _ in range(3):
        hit_at.append(time.monotonic())
        assert (await cache.limits.hit("k", limit=5, window_seconds=60)).allowed
        await asyncio.sleep(0.15)

    denied = await cache.limits.hit("k", limit=2, window_seconds=60)

    # Three hits in the window and a limit of two: one more fits once the second one (not the
    # first, which would leave one too many) has left the window.
    assert not denied.allowed
    assert denied.retry_after == pytest.approx(hit_at[1] + 60 - time.monotonic(), abs=0.05)


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (1, 0), (1, -1)])
async def test_a_limit_needs_a_positive_limit_and_window(
    make_cache: MakeCache, limit: int, window: float
) -> None:
    cache = await make_cache()
    with pytest.raises(ValueError, match=r"^(limit|window_seconds) must"):
        await cache.limits.hit("k", limit=limit, window_seconds=window)


async def test_memory_forgets_keys_whose_window_has_passed() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(timer=lambda: now[0])
    limiter.SWEEP_EVERY = 3
    await limiter.hit("old", limit=1, window_seconds=10)
    now[0] += 10
    await limiter.hit("new", limit=1, window_seconds=10)

    # The third hit sweeps: "old" has nothing left in its window, "new" has.
    await limiter.hit("third", limit=1, window_seconds=10)

    assert sorted(limiter._logs) == ["new", "third"]
    assert not (await limiter.hit("new", limit=1, window_seconds=10)).allowed
