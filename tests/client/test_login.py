"""jscode2session: a code is exchanged once and never resent after a possible use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from paydesk.client import errors
from paydesk.client.config import AppAccount, Endpoints
from paydesk.client.login import LoginClient
from tests.client.doubles import Upstream

APP = AppAccount("wx5a0d5a0d00000001", "app-secret")
Sleep = Callable[[float], Awaitable[None]]


@pytest.fixture
def login(upstream_http: httpx.AsyncClient, sleep: Sleep) -> LoginClient:
    return LoginClient(Endpoints.sandbox("http://sandbox.test"), upstream_http, sleep=sleep)


@pytest.mark.parametrize("unionid", [None, "", "oUnion000000000000000000001"])
async def test_code_to_session(login: LoginClient, upstream: Upstream, unionid: str | None) -> None:
    answer = {"openid": "oUser", "session_key": "tiihtNczf5v6AKRyjwEUhQ=="}
    if unionid is not None:
        answer["unionid"] = unionid
    upstream.answers = [httpx.Response(200, json=answer)]

    session = await login.code_to_session(APP, "0a1b2c")

    assert (session.openid, session.session_key) == ("oUser", "tiihtNczf5v6AKRyjwEUhQ==")
    assert session.unionid == (unionid or None)
    assert "tiihtNczf5v6AKRyjwEUhQ==" not in repr(session)
    [request] = upstream.requests
    assert request.url.path == "/sns/jscode2session"
    assert dict(request.url.params) == {
        "appid": APP.appid,
        "secret": "app-secret",
        "js_code": "0a1b2c",
        "grant_type": "authorization_code",
    }


@pytest.mark.parametrize("errcode", [40029, 40163, 40226])
async def test_a_bad_code_is_a_login_error(
    login: LoginClient, upstream: Upstream, errcode: int
) -> None:
    upstream.answers = [httpx.Response(200, json={"errcode": errcode, "errmsg": "x, rid: ab-cd"})]
    with pytest.raises(errors.LoginError) as caught:
        await login.code_to_session(APP, "used")
    assert (caught.value.errcode, caught.value.request_id) == (errcode, "ab-cd")


async def test_a_5xx_is_not_retried_because_the_code_may_be_spent(
    login: LoginClient, upstream: Upstream
) -> None:
    upstream.answers = [httpx.Response(502), httpx.Response(200, json={"errcode": 40163})]
    with pytest.raises(errors.UpstreamUnavailable):
        await login.code_to_session(APP, "c")
    assert len(upstream.requests) == 1


async def test_a_read_timeout_is_not_retried(login: LoginClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.ReadTimeout("slow")]
    with pytest.raises(errors.OutcomeUnknown):
        await login.code_to_session(APP, "c")
    assert len(upstream.requests) == 1


async def test_a_connect_error_is_retried(
    login: LoginClient, upstream: Upstream, sleeps: list[float]
) -> None:
    upstream.answers = [
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"openid": "o", "session_key": "k"}),
    ]
    assert (await login.code_to_session(APP, "c")).openid == "o"
    assert sleeps == [0.1]


async def test_an_answer_without_session_key_is_unexpected(
    login: LoginClient, upstream: Upstream
) -> None:
    upstream.answers = [httpx.Response(200, json={"openid": "o"})]
    with pytest.raises(errors.UnexpectedResponse, match="session_key"):
        await login.code_to_session(APP, "c")
