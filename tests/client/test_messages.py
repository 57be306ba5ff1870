"""Customer-service send with passive token refresh: once, never a loop."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from paydesk.client import errors
from paydesk.client.config import AppAccount, Endpoints
from paydesk.client.messages import MessagesClient
from paydesk.client.tokens import AccessTokens, CachedToken
from tests.client.doubles import NOW, Upstream

APP = AppAccount("wx5a0d5a0d00000001", "app-secret")
BODY = {"touser": "oUser", "msgtype": "text", "text": {"content": "订单已创建"}}
Sleep = Callable[[float], Awaitable[None]]
OK = {"errcode": 0, "errmsg": "ok"}


class Fetcher:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, app: AppAccount) -> CachedToken:
        self.calls += 1
        return CachedToken(f"TOKEN{self.calls}", expires_at=NOW + 7200)


@pytest.fixture
def fetch() -> Fetcher:
    return Fetcher()


@pytest.fixture
def messages(upstream_http: httpx.AsyncClient, fetch: Fetcher, sleep: Sleep) -> MessagesClient:
    tokens = AccessTokens(fetch, clock=lambda: NOW)
    return MessagesClient(
        Endpoints.sandbox("http://sandbox.test"), upstream_http, tokens, sleep=sleep
    )


def tokens_used(upstream: Upstream) -> list[str]:
    return [r.url.params["access_token"] for r in upstream.requests]


async def test_send_custom(messages: MessagesClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.Response(200, json=OK)]

    await messages.send_custom(APP, BODY)

    [request] = upstream.requests
    assert (request.method, request.url.path) == ("POST", "/cgi-bin/message/custom/send")
    assert json.loads(request.content) == BODY
    assert "订单已创建".encode() in request.content
    assert tokens_used(upstream) == ["TOKEN1"]


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_rejected_token_is_refreshed_once_and_the_message_resent(
    messages: MessagesClient, upstream: Upstream, fetch: Fetcher, errcode: int
) -> None:
    upstream.answers = [
        httpx.Response(200, json={"errcode": errcode, "errmsg": "invalid credential"}),
        httpx.Response(200, json=OK),
    ]

    await messages.send_custom(APP, BODY)

    assert tokens_used(upstream) == ["TOKEN1", "TOKEN2"]
    assert fetch.calls == 2


async def test_a_token_rejected_twice_is_raised_not_looped(
    messages: MessagesClient, upstream: Upstream, fetch: Fetcher
) -> None:
    rejected = {"errcode": 40001, "errmsg": "invalid credential"}
    upstream.answers = [httpx.Response(200, json=rejected) for _ in range(5)]

    with pytest.raises(errors.AccessTokenRejected):
        await messages.send_custom(APP, BODY)

    assert tokens_used(upstream) == ["TOKEN1", "TOKEN2"]
    assert fetch.calls == 2


async def test_other_errors_do_not_touch_the_token(
    messages: MessagesClient, upstream: Upstream, fetch: Fetcher
) -> None:
    upstream.answers = [
        httpx.Response(200, json={"errcode": 45015, "errmsg": "response out of time limit"})
    ]
    with pytest.raises(errors.ApiError) as caught:
        await messages.send_custom(APP, BODY)
    assert caught.value.errcode == 45015
    assert fetch.calls == 1


async def test_a_5xx_is_not_resent(messages: MessagesClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.Response(500), httpx.Response(200, json=OK)]
    with pytest.raises(errors.UpstreamUnavailable):
        await messages.send_custom(APP, BODY)
    assert len(upstream.requests) == 1
