"""Small JSON values with a time to live, the same in memory and in Redis."""

from __future__ import annotations

import asyncio

import pytest

from paydesk.cache import CorruptEntry, MemoryKeyValue
from paydesk.cache.keyvalue import JSON
from tests.cache.replicas import MakeCache

pytestmark = pytest.mark.backends

TICKET: JSON = {"order": "ord_1", "amount": 100, "payer": {"openid": "o-1"}, "tags": ["a", "b"]}


async def test_a_value_set_by_one_replica_is_read_by_another(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()

    await first.values.set("ticket:t1", TICKET, ttl=60)

    assert await second.values.get("ticket:t1") == TICKET
    assert await second.values.get("ticket:t2") is None


async def test_values_come_back_as_json_would_give_them(make_cache: MakeCache) -> None:
    cache = await make_cache()
    value: object = {"pair": ("x", 1), "fen": 100, "ratio": 0.5, "on": True, "none": None}

    await cache.values.set("k", value, ttl=60)  # type: ignore[arg-type]  # a tuple on purpose

    assert await cache.values.get("k") == {
        "pair": ["x", 1],
        "fen": 100,
        "ratio": 0.5,
        "on": True,
        "none": None,
    }


async def test_a_value_expires_after_its_ttl(make_cache: MakeCache) -> None:
    cache = await make_cache()
    await cache.values.set("state:s1", "short", ttl=0.2)
    await cache.values.set("state:s2", "long", ttl=60)
    assert await cache.values.get("state:s1") == "short"

    await asyncio.sleep(0.3)

    assert await cache.values.get("state:s1") is None
    assert await cache.values.take("state:s1") is None
    assert await cache.values.get("state:s2") == "long"


async def test_set_replaces_the_value_and_its_ttl(make_cache: MakeCache) -> None:
    cache = await make_cache()
    await cache.values.set("k", 1, ttl=0.2)

    await cache.values.set("k", 2, ttl=60)
    await asyncio.sleep(0.3)

    assert await cache.values.get("k") == 2


async def test_take_returns_the_value_once(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    await first.values.set("oauth:st_1", {"return_to": "/pay"}, ttl=60)

    taken = await asyncio.gather(first.values.take("oauth:st_1"), second.values.take("oauth:st_1"))

    assert sorted(taken, key=str) == [None, {"return_to": "/pay"}]
    assert await first.values.get("oauth:st_1") is None


async def test_delete_removes_the_value(make_cache: MakeCache) -> None:
    cache = await make_cache()
    await cache.values.set("k", "v", ttl=60)

    await cache.values.delete("k")
    await cache.values.delete("k")  # already gone: nothing happens

    assert await cache.values.get("k") is None


@pytest.mark.parametrize("ttl", [0, -1])
async def test_a_value_needs_a_positive_ttl(make_cache: MakeCache, ttl: float) -> None:
    cache = await make_cache()
    with pytest.raises(ValueError, match=r"^ttl must be positive"):
        await cache.values.set("k", "v", ttl=ttl)


async def test_memory_expires_by_its_timer() -> None:
    now = [0.0]
    values = MemoryKeyValue(timer=lambda: now[0])
    await values.set("k", "v", ttl=10)

    now[0] = 9.99
    assert await values.get("k") == "v"
    now[0] = 10.0
    assert await values.get("k") is None


def test_a_stored_value_that_is_not_json_is_refused() -> None:
    from paydesk.cache.keyvalue import _decode

    with pytest.raises(CorruptEntry, match="'kv:k'"):
        _decode("{not json", "kv:k")
