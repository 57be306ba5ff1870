"""Official-account OAuth: code exchange, refresh, user info."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from paydesk.client import errors
from paydesk.client.config import AppAccount, Endpoints
from paydesk.client.oauth import OAuthClient, UserInfo
from tests.client.doubles import Upstream

APP = AppAccount("wx5a0d5a0d00000002", "oa-secret")
Sleep = Callable[[float], Awaitable[None]]
TOKEN = {
    "access_token": "USER-AT",
    "expires_in": 7200,
    "refresh_token": "USER-RT",
    "openid": "oOA",
    "scope": "snsapi_userinfo",
    "unionid": "oUnion",
}


@pytest.fixture
def oauth(upstream_http: httpx.AsyncClient, sleep: Sleep) -> OAuthClient:
    return OAuthClient(Endpoints.sandbox("http://sandbox.test"), upstream_http, sleep=sleep)


async def test_exchange_code(oauth: OAuthClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.Response(200, json=TOKEN)]

    token = await oauth.exchange_code(APP, "CODE")

    assert (token.access_token, token.refresh_token, token.openid) == ("USER-AT", "USER-RT", "oOA")
    assert (token.scope, token.unionid, token.expires_in) == ("snsapi_userinfo", "oUnion", 7200)
    assert token.is_snapshotuser is False
    assert "USER-AT" not in repr(token)
    assert "USER-RT" not in repr(token)
    [request] = upstream.requests
    assert request.url.path == "/sns/oauth2/access_token"
    assert dict(request.url.params) == {
        "appid": APP.appid,
        "secret": "oa-secret",
        "code": "CODE",
        "grant_type": "authorization_code",
    }


async def test_a_snapshot_user_and_a_base_scope_token(
    oauth: OAuthClient, upstream: Upstream
) -> None:
    base = {k: v for k, v in TOKEN.items() if k != "unionid"} | {"scope": "snsapi_base"}
    upstream.answers = [httpx.Response(200, json=base | {"is_snapshotuser": 1})]
    token = await oauth.exchange_code(APP, "CODE")
    assert (token.unionid, token.is_snapshotuser, token.scope) == (None, True, "snsapi_base")


@pytest.mark.parametrize("errcode", [40029, 40163, 42003])
async def test_a_spent_code_is_a_login_error_and_not_retried(
    oauth: OAuthClient, upstream: Upstream, errcode: int
) -> None:
    upstream.answers = [httpx.Response(200, json={"errcode": errcode, "errmsg": "bad code"})]
    with pytest.raises(errors.LoginError):
        await oauth.exchange_code(APP, "CODE")
    assert len(upstream.requests) == 1


async def test_refresh(oauth: OAuthClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.Response(502), httpx.Response(200, json=TOKEN)]

    token = await oauth.refresh(APP, "USER-RT")

    assert token.access_token == "USER-AT"
    assert len(upstream.requests) == 2  # idempotent: a 5xx is retried
    assert dict(upstream.requests[1].url.params) == {
        "appid": APP.appid,
        "grant_type": "refresh_token",
        "refresh_token": "USER-RT",
    }


async def test_userinfo(oauth: OAuthClient, upstream: Upstream) -> None:
    info = {
        "openid": "oOA",
        "nickname": "小明",
        "sex": 1,
        "province": "广东",
        "city": "深圳",
        "country": "中国",
        "headimgurl": "https://thirdwx.qlogo.cn/x/0",
        "privilege": ["chinaunicom"],
        "unionid": "oUnion",
    }
    upstream.answers = [httpx.Response(200, json=info)]

    user = await oauth.userinfo("USER-AT", "oOA")

    assert user == UserInfo(
        openid="oOA",
        nickname="小明",
        sex=1,
        province="广东",
        city="深圳",
        country="中国",
        headimgurl="https://thirdwx.qlogo.cn/x/0",
        privilege=("chinaunicom",),
        unionid="oUnion",
    )
    assert dict(upstream.requests[0].url.params) == {
        "access_token": "USER-AT",
        "openid": "oOA",
        "lang": "zh_CN",
    }


async def test_minimal_userinfo(oauth: OAuthClient, upstream: Upstream) -> None:
    upstream.answers = [httpx.Response(200, json={"openid": "oOA", "privilege": None})]
    assert await oauth.userinfo("AT", "oOA", lang="en") == UserInfo(openid="oOA")


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ({"openid": "o", "privilege": "x"}, "privilege"),
        ({"openid": "o", "sex": "1"}, "sex"),
        ({"openid": "o", "sex": False}, "sex"),
    ],
)
async def test_a_userinfo_answer_of_the_wrong_shape_is_unexpected(
    oauth: OAuthClient, upstream: Upstream, answer: dict[str, Any], match: str
) -> None:
    upstream.answers = [httpx.Response(200, json=answer)]
    with pytest.raises(errors.UnexpectedResponse, match=match):
        await oauth.userinfo("AT", "o")


async def test_a_base_scope_token_cannot_read_userinfo(
    oauth: OAuthClient, upstream: Upstream
) -> None:
    upstream.answers = [httpx.Response(200, json={"errcode": 48001, "errmsg": "api unauthorized"})]
    with pytest.raises(errors.ApiError) as caught:
        await oauth.userinfo("AT", "o")
    assert caught.value.errcode == 48001
