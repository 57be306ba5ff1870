"""OAuth's server side: oauth-code, code → tokens (40029 / 40163 / 42003), refresh, userinfo
(48001 for snsapi_base), sns/auth, avatars."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.codes import CODE_LIFETIME
from paydesk.sandbox.identity.oauth_api import ACCESS_LIFETIME, KEEP_EXPIRED, REFRESH_LIFETIME

ExpectErrcode = Callable[[httpx.Response, int], None]
ExpectRefused = Callable[[str, bytes, int, str], Awaitable[None]]
OAuthCode = Callable[..., Awaitable[dict[str, Any]]]


def exchange_params(app: AppCredentials, code: str) -> dict[str, str]:
    return {
        "appid": app.appid,
        "secret": app.secret,
        "code": code,
        "grant_type": "authorization_code",
    }


async def exchange(client: httpx.AsyncClient, app: AppCredentials, code: str) -> httpx.Response:
    return await client.get("/sns/oauth2/access_token", params=exchange_params(app, code))


async def refresh(client: httpx.AsyncClient, app: AppCredentials, token: str) -> httpx.Response:
    params = {"appid": app.appid, "grant_type": "refresh_token", "refresh_token": token}
    return await client.get("/sns/oauth2/refresh_token", params=params)


async def test_snsapi_base_gives_openid_but_no_unionid(
    sandbox_client: httpx.AsyncClient, oa: AppCredentials, oauth_code: OAuthCode
) -> None:
    issued = await oauth_code()
    assert issued["scope"] == "snsapi_base"
    answer = (await exchange(sandbox_client, oa, issued["code"])).json()
    assert set(answer) == {"access_token", "expires_in", "refresh_token", "openid", "scope"}
    assert answer["expires_in"] == 7200
    assert answer["openid"] == issued["openid"]
    assert answer["scope"] == "snsapi_base"


async def test_snsapi_userinfo_adds_unionid_and_userinfo_answers(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials, oauth_code: OAuthCode
) -> None:
    issued = await oauth_code(scope="snsapi_userinfo")
    answer = (await exchange(sandbox_client, oa, issued["code"])).json()
    assert answer["unionid"] == issued["unionid"]
    params = {"access_token": answer["access_token"], "openid": answer["openid"], "lang": "zh_CN"}
    info = (await sandbox_client.get("/sns/userinfo", params=params)).json()
    person = sandbox.identity.persons.person(issued["unionid"])
    assert info == {
        "openid": issued["openid"],
        "nickname": person.nickname,
        "sex": 0,
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": f"http://sandbox.test/_sandbox/avatar/{person.unionid}.svg",
        "privilege": [],
        "unionid": person.unionid,
    }
    avatar = await sandbox_client.get(info["headimgurl"])
    assert avatar.status_code == 200
    assert avatar.headers["content-type"] == "image/svg+xml"
    assert avatar.text.startswith("<svg")


async def test_the_same_person_has_one_unionid_and_two_openids_across_apps(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    oauth_code: OAuthCode,
    login_code: OAuthCode,
) -> None:
    in_mini = await login_code()
    person = sandbox.identity.persons.person(in_mini["unionid"])
    in_oa = await oauth_code(openid=person.openid_for(oa.appid), scope="snsapi_userinfo")
    answer = (await exchange(sandbox_client, oa, in_oa["code"])).json()
    assert answer["unionid"] == in_mini["unionid"]
    assert answer["openid"] == person.openid_for(oa.appid) != in_mini["openid"]
    # The mini program's openid means nothing to the official account: a new person.
    stranger = await oauth_code(openid=in_mini["openid"])
    assert stranger["unionid"] != in_mini["unionid"]


async def test_a_code_is_single_use_and_expires_after_five_minutes(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    oauth_code: OAuthCode,
    expect_errcode: ExpectErrcode,
) -> None:
    code = (await oauth_code())["code"]
    assert "access_token" in (await exchange(sandbox_client, oa, code)).json()
    expect_errcode(await exchange(sandbox_client, oa, code), 40163)
    late = (await oauth_code())["code"]
    sandbox.clock.advance(CODE_LIFETIME.total_seconds())
    expect_errcode(await exchange(sandbox_client, oa, late), 42003)
    expect_errcode(await exchange(sandbox_client, oa, "no-such-code"), 40029)


@pytest.mark.parametrize(
    ("drop", "change", "errcode"),
    [
        ("appid", {}, 41002),
        ("secret", {}, 41004),
        ("code", {}, 41008),
        ("grant_type", {}, 40002),
        (None, {"appid": "wx0000000000000000"}, 40013),
        (None, {"secret": "bad"}, 40125),
    ],
)
async def test_access_token_parameter_errors(
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    oauth_code: OAuthCode,
    expect_errcode: ExpectErrcode,
    drop: str | None,
    change: dict[str, str],
    errcode: int,
) -> None:
    params = {**exchange_params(oa, (await oauth_code())["code"]), **change}
    if drop:
        del params[drop]
    expect_errcode(await sandbox_client.get("/sns/oauth2/access_token", params=params), errcode)


async def test_refresh_gives_a_new_access_token_for_30_days(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    oauth_code: OAuthCode,
    expect_errcode: ExpectErrcode,
) -> None:
    first = (
        await exchange(sandbox_client, oa, (await oauth_code(scope="snsapi_userinfo"))["code"])
    ).json()
    sandbox.clock.advance(ACCESS_LIFETIME.total_seconds())
    stale = {"access_token": first["access_token"], "openid": first["openid"]}
    expect_errcode(await sandbox_client.get("/sns/userinfo", params=stale), 42001)
    renewed = (await refresh(sandbox_client, oa, first["refresh_token"])).json()
    assert renewed["access_token"] != first["access_token"]
    assert renewed["refresh_token"] == first["refresh_token"]
    assert (renewed["openid"], renewed["scope"], renewed["unionid"]) == (
        first["openid"],
        "snsapi_userinfo",
        first["unionid"],
    )
    fresh = {"access_token": renewed["access_token"], "openid": renewed["openid"]}
    assert (await sandbox_client.get("/sns/userinfo", params=fresh)).json()["openid"] == first[
        "openid"
    ]
    sandbox.clock.advance(REFRESH_LIFETIME.total_seconds())
    expect_errcode(await refresh(sandbox_client, oa, first["refresh_token"]), 42002)


async def test_expired_oauth_tokens_are_forgotten_after_a_day(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    oauth_code: OAuthCode,
    expect_errcode: ExpectErrcode,
) -> None:
    first = (await exchange(sandbox_client, oa, (await oauth_code())["code"])).json()
    sandbox.clock.advance((REFRESH_LIFETIME + KEEP_EXPIRED).total_seconds() + 1)
    await exchange(sandbox_client, oa, (await oauth_code())["code"])
    params = {"access_token": first["access_token"], "openid": first["openid"]}
    expect_errcode(await sandbox_client.get("/sns/auth", params=params), 40001)
    expect_errcode(await refresh(sandbox_client, oa, first["refresh_token"]), 40030)


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"appid": "OA", "refresh_token": "R"}, 40002),
        ({"grant_type": "refresh_token", "refresh_token": "R"}, 41002),
        (
            {"grant_type": "refresh_token", "appid": "wx0000000000000000", "refresh_token": "R"},
            40013,
        ),
        ({"grant_type": "refresh_token", "appid": "OA"}, 41003),
        ({"grant_type": "refresh_token", "appid": "OA", "refresh_token": "nope"}, 40030),
        ({"grant_type": "refresh_token", "appid": "MINI", "refresh_token": "R"}, 40030),
    ],
)
async def test_refresh_errors(
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    mini: AppCredentials,
    oauth_code: OAuthCode,
    expect_errcode: ExpectErrcode,
    params: dict[str, str],
    errcode: int,
) -> None:
    token = (await exchange(sandbox_client, oa, (await oauth_code())["code"])).json()
    names = {"OA": oa.appid, "MINI": mini.appid, "R": token["refresh_token"]}
    real = {k: names.get(v, v) for k, v in params.items()}
    expect_errcode(await sandbox_client.get("/sns/oauth2/refresh_token", params=real), errcode)


async def test_userinfo_and_auth_errors(
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    oauth_code: OAuthCode,
    expect_errcode: ExpectErrcode,
) -> None:
    base = (await exchange(sandbox_client, oa, (await oauth_code())["code"])).json()
    good = {"access_token": base["access_token"], "openid": base["openid"]}
    expect_errcode(await sandbox_client.get("/sns/userinfo", params=good), 48001)
    assert (await sandbox_client.get("/sns/auth", params=good)).json() == {
        "errcode": 0,
        "errmsg": "ok",
    }
    for path in ("/sns/userinfo", "/sns/auth"):
        expect_errcode(await sandbox_client.get(path, params={"openid": base["openid"]}), 41001)
        bad = {"access_token": "bad", "openid": base["openid"]}
        expect_errcode(await sandbox_client.get(path, params=bad), 40001)
        other = {"access_token": base["access_token"], "openid": "o-someone-else"}
        expect_errcode(await sandbox_client.get(path, params=other), 40003)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"nope", 400, "not valid JSON"),
        (b'{"scope": "snsapi_base"}', 400, "appid is required"),
        (b'{"appid": "wx0000000000000000"}', 404, "unknown appid"),
        (b'{"appid": "MINI"}', 400, "not an official account"),
        (b'{"appid": "OA", "scope": "snsapi_login"}', 400, "scope must be"),
        (b'{"appid": "OA", "openid": "a/b"}', 400, "openid must be"),
    ],
)
async def test_oauth_code_refuses_bad_requests(
    expect_refused: ExpectRefused, body: bytes, status: int, message: str
) -> None:
    await expect_refused("/_sandbox/oauth-code", body, status, message)


async def test_oauth_code_for_a_known_openid_is_that_person(
    sandbox_client: httpx.AsyncClient, oa: AppCredentials, oauth_code: OAuthCode
) -> None:
    first = await oauth_code()
    again = await oauth_code(openid=first["openid"])
    assert (again["openid"], again["unionid"]) == (first["openid"], first["unionid"])
    assert again["code"] != first["code"]
