"""The access-token store: one upstream call for many replicas, with the client's AccessTokens.

Memory runs the client's ``MemoryTokenStore`` (the cache's store without Redis), Redis the
:class:`RedisTokenStore`; the same tests hold for both.
"""

from __future__ import annotations

import asyncio

import pytest

from paydesk.cache import CorruptEntry
from paydesk.cache.tokens import decode_token
from paydesk.client.config import AppAccount, unix_time
from paydesk.client.tokens import AccessTokens, CachedToken
from tests.cache.replicas import MakeCache

pytestmark = pytest.mark.backends

APP = AppAccount("wx5a0d5a0d00000001", "app-secret")
OTHER_APP = AppAccount("wx5a0d5a0d00000002", "other-secret")


class Upstream:
    """WeChat's ``stable_token``, slow enough for every caller to ask while it works."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, app: AppAccount) -> CachedToken:
        self.calls += 1
        number = self.calls
        await asyncio.sleep(0.05)
        return CachedToken(f"TOKEN{number}-{app.appid}", expires_at=unix_time() + 7200)


@pytest.mark.parametrize("shared_store", [True, False], ids=["one store", "a store each"])
async def test_fifty_gets_on_two_replicas_make_one_upstream_call(
    make_cache: MakeCache, shared_store: bool
) -> None:
    first = await make_cache()
    second = first if shared_store else await make_cache()
    upstream = Upstream()
    replicas = [AccessTokens(upstream, first.tokens), AccessTokens(upstream, second.tokens)]

    got = await asyncio.gather(*(replicas[n % 2].get(APP) for n in range(50)))

    assert got == [f"TOKEN1-{APP.appid}"] * 50
    assert upstream.calls == 1


async def test_a_rejected_token_is_fetched_again_once_for_every_replica(
    make_cache: MakeCache,
) -> None:
    first, second = await make_cache(), await make_cache()
    upstream = Upstream()
    one, two = AccessTokens(upstream, first.tokens), AccessTokens(upstream, second.tokens)
    rejected = await one.get(APP)

    await two.invalidate(APP, rejected)
    got = await asyncio.gather(*(replica.get(APP) for replica in (one, two) for _ in range(10)))

    assert set(got) == {f"TOKEN2-{APP.appid}"}
    assert upstream.calls == 2


async def test_each_app_has_its_own_token(make_cache: MakeCache) -> None:
    cache = await make_cache()
    upstream = Upstream()
    tokens = AccessTokens(upstream, cache.tokens)

    mine, theirs = await asyncio.gather(tokens.get(APP), tokens.get(OTHER_APP))

    assert mine.endswith(f"-{APP.appid}")
    assert theirs.endswith(f"-{OTHER_APP.appid}")
    assert upstream.calls == 2


async def test_put_then_get_returns_the_token(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    token = CachedToken("ACCESS", expires_at=unix_time() + 7200)

    assert await first.tokens.get(APP.appid) is None
    await first.tokens.put(APP.appid, token)

    assert await second.tokens.get(APP.appid) == token
    assert await second.tokens.get(OTHER_APP.appid) is None


async def test_invalidate_forgets_only_the_token_it_names(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    newer = CachedToken("NEWER", expires_at=unix_time() + 7200)
    await first.tokens.put(APP.appid, newer)

    await second.tokens.invalidate(APP.appid, "OLDER")  # a replica late to see a rejection
    assert await first.tokens.get(APP.appid) == newer

    await second.tokens.invalidate(APP.appid, "NEWER")
    assert await first.tokens.get(APP.appid) is None

    await second.tokens.invalidate(APP.appid, "NEWER")  # nothing stored: nothing happens
    assert await first.tokens.get(APP.appid) is None


async def test_the_refresh_lock_is_held_by_one_replica_at_a_time(make_cache: MakeCache) -> None:
    first, second = await make_cache(), await make_cache()
    entered = asyncio.Event()

    async def second_refresh() -> None:
        async with second.tokens.lock(APP.appid):
            entered.set()

    async with first.tokens.lock(APP.appid):
        waiting = asyncio.create_task(second_refresh())
        await asyncio.sleep(0.1)
        assert not entered.is_set()
        async with first.tokens.lock(OTHER_APP.appid):  # another app's lock is free
            pass
    await asyncio.wait_for(waiting, 5)

    assert entered.is_set()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"access_token": 7, "expires_at": 1700000000}',
        '{"access_token": "ACCESS", "expires_at": "1700000000"}',
        '{"access_token": "ACCESS", "expires_at": true}',
        '{"expires_at": 1700000000}',
    ],
)
def test_a_stored_value_that_is_not_a_token_is_refused(raw: str) -> None:
    with pytest.raises(CorruptEntry, match="pd:token:wx1"):
        decode_token(raw, "pd:token:wx1")
