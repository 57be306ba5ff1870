"""Access tokens: one upstream call however many tasks ask, early refresh, invalidation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from paydesk.client import errors
from paydesk.client.config import AppAccount, Endpoints
from paydesk.client.tokens import AccessTokens, CachedToken, MemoryTokenStore, TokenClient
from tests.client.doubles import NOW, Upstream

APP = AppAccount("wx5a0d5a0d00000001", "app-secret")
Sleep = Callable[[float], Awaitable[None]]


class Fetcher:
    """A token upstream that counts its calls and can be slow or fail."""

    def __init__(self, *, delay: float = 0.01, fail: Exception | None = None) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def __call__(self, app: AppAccount) -> CachedToken:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return CachedToken(f"TOKEN{self.calls}", expires_at=NOW + 7200)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


async def test_fifty_concurrent_callers_make_one_upstream_call() -> None:
    fetch = Fetcher()
    tokens = AccessTokens(fetch, clock=Clock())

    got = await asyncio.gather(*(tokens.get(APP) for _ in range(50)))

    assert got == ["TOKEN1"] * 50
    assert fetch.calls == 1


async def test_a_fresh_token_is_reused_and_refreshed_five_minutes_early() -> None:
    fetch, clock = Fetcher(delay=0), Clock()
    tokens = AccessTokens(fetch, clock=clock)

    assert await tokens.get(APP) == "TOKEN1"
    clock.now = NOW + 7200 - 301
    assert await tokens.get(APP) == "TOKEN1"
    clock.now = NOW + 7200 - 300
    assert await tokens.get(APP) == "TOKEN2"
    assert fetch.calls == 2


async def test_a_failed_refresh_reaches_every_waiter_once_and_is_tried_again_later() -> None:
    failure = errors.UpstreamUnavailable("busy", status=503)
    fetch = Fetcher(fail=failure)
    tokens = AccessTokens(fetch, clock=Clock())

    results = await asyncio.gather(*(tokens.get(APP) for _ in range(10)), return_exceptions=True)

    assert results == [failure] * 10
    assert fetch.calls == 1
    fetch.fail = None
    assert await tokens.get(APP) == "TOKEN2"


async def test_a_waiter_that_gives_up_does_not_cancel_the_refresh() -> None:
    fetch = Fetcher(delay=0.05)
    tokens = AccessTokens(fetch, clock=Clock())

    impatient = asyncio.create_task(tokens.get(APP))
    patient = asyncio.create_task(tokens.get(APP))
    await asyncio.sleep(0.01)
    impatient.cancel()

    assert await patient == "TOKEN1"
    assert impatient.cancelled()
    assert fetch.calls == 1


async def test_invalidate_forgets_only_the_rejected_token() -> None:
    fetch = Fetcher(delay=0)
    tokens = AccessTokens(fetch, clock=Clock())
    assert await tokens.get(APP) == "TOKEN1"

    await tokens.invalidate(APP, "SOMETHING-ELSE")
    assert await tokens.get(APP) == "TOKEN1"
    await tokens.invalidate(APP, "TOKEN1")
    assert await tokens.get(APP) == "TOKEN2"
    await tokens.invalidate(APP, "TOKEN2")
    await tokens.invalidate(APP, "TOKEN2")  # already gone: nothing to do
    assert fetch.calls == 2


class OtherProcessStore(MemoryTokenStore):
    """A shared store where another process refreshes while we wait for the lock."""

    def lock(self, appid: str) -> asyncio.Lock:
        @asynccontextmanager
        async def locked() -> AsyncIterator[None]:
            await self.put(appid, CachedToken("FROM-ANOTHER-PROCESS", expires_at=NOW + 7200))
            yield

        return locked()  # type: ignore[return-value]


async def test_after_the_lock_a_token_stored_by_another_process_is_used() -> None:
    fetch = Fetcher(delay=0)
    tokens = AccessTokens(fetch, OtherProcessStore(), clock=Clock())
    assert await tokens.get(APP) == "FROM-ANOTHER-PROCESS"
    assert fetch.calls == 0


# ---------------------------------------------------------------- the upstream calls


@pytest.fixture
def token_client(upstream_http: httpx.AsyncClient, sleep: Sleep) -> TokenClient:
    return TokenClient(
        Endpoints.sandbox("http://sandbox.test"), upstream_http, clock=lambda: NOW, sleep=sleep
    )


@pytest.mark.parametrize("force", [False, True])
async def test_stable_token_posts_json(
    token_client: TokenClient, upstream: Upstream, force: bool
) -> None:
    upstream.answers = [httpx.Response(200, json={"access_token": "ACCESS", "expires_in": 7200})]

    token = await token_client.stable_token(APP, force_refresh=force)

    assert (token.access_token, token.expires_at) == ("ACCESS", NOW + 7200)
    [request] = upstream.requests
    assert (request.method, request.url.path) == ("POST", "/cgi-bin/stable_token")
    assert json.loads(request.content) == {
        "grant_type": "client_credential",
        "appid": APP.appid,
        "secret": "app-secret",
        "force_refresh": force,
    }
    assert "ACCESS" not in repr(token)


async def test_token_gets_with_query(token_client: TokenClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.Response(200, json={"access_token": "ACCESS", "expires_in": 60})]

    token = await token_client.token(APP)

    assert token.expires_at == NOW + 60
    [request] = upstream.requests
    assert request.url.path == "/cgi-bin/token"
    assert dict(request.url.params) == {
        "grant_type": "client_credential",
        "appid": APP.appid,
        "secret": "app-secret",
    }


@pytest.mark.parametrize("expires_in", [None, "7200", 0, True])
async def test_a_token_answer_without_a_lifetime_is_unexpected(
    token_client: TokenClient, upstream: Upstream, expires_in: object
) -> None:
    upstream.answers = [httpx.Response(200, json={"access_token": "A", "expires_in": expires_in})]
    with pytest.raises(errors.UnexpectedResponse, match="expires_in"):
        await token_client.stable_token(APP)


async def test_a_wrong_secret_is_an_api_error(
    token_client: TokenClient, upstream: Upstream
) -> None:
    upstream.answers = [httpx.Response(200, json={"errcode": 40125, "errmsg": "invalid appsecret"})]
    with pytest.raises(errors.ApiError) as caught:
        await token_client.stable_token(APP)
    assert caught.value.errcode == 40125
