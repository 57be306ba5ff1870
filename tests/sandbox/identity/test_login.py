"""wx.login and code2Session: codes single-use (40163), five minutes (40029), WeChat's
parameter errors, a fresh session_key per login, and a race between two redemptions."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.codes import CODE_LIFETIME

ExpectErrcode = Callable[[httpx.Response, int], None]
ExpectRefused = Callable[[str, bytes, int, str], Awaitable[None]]
LoginCode = Callable[..., Awaitable[dict[str, Any]]]


def session_params(app: AppCredentials, code: str) -> dict[str, str]:
    return {
        "appid": app.appid,
        "secret": app.secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }


async def test_a_login_code_becomes_openid_session_key_and_unionid(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    login_code: LoginCode,
) -> None:
    issued = await login_code()
    response = await sandbox_client.get(
        "/sns/jscode2session", params=session_params(mini, issued["code"])
    )
    assert response.status_code == 200
    answer = response.json()
    assert list(answer) == ["openid", "session_key", "unionid"]
    assert answer["openid"] == issued["openid"]
    assert answer["unionid"] == issued["unionid"]
    assert len(base64.b64decode(answer["session_key"], validate=True)) == 16
    person = sandbox.identity.persons.by_unionid(issued["unionid"])
    assert person is not None
    assert person.openid_for(mini.appid) == answer["openid"]


async def test_each_login_gets_a_new_session_key_for_the_same_person(
    sandbox_client: httpx.AsyncClient, mini: AppCredentials, login_code: LoginCode
) -> None:
    first = await login_code()
    second = await login_code(openid=first["openid"])
    assert second["openid"] == first["openid"]
    assert second["code"] != first["code"]
    keys = []
    for issued in (first, second):
        answer = (
            await sandbox_client.get(
                "/sns/jscode2session", params=session_params(mini, issued["code"])
            )
        ).json()
        assert answer["openid"] == first["openid"]
        keys.append(answer["session_key"])
    assert keys[0] != keys[1]


async def test_an_unknown_openid_becomes_a_new_person_with_that_openid(
    sandbox: Sandbox, login_code: LoginCode
) -> None:
    issued = await login_code(openid="oTestUser0000000000000000001")
    assert issued["openid"] == "oTestUser0000000000000000001"
    assert len(sandbox.identity.persons) == 1


async def test_a_code_is_single_use(
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    login_code: LoginCode,
    expect_errcode: ExpectErrcode,
) -> None:
    code = (await login_code())["code"]
    params = session_params(mini, code)
    assert "openid" in (await sandbox_client.get("/sns/jscode2session", params=params)).json()
    expect_errcode(await sandbox_client.get("/sns/jscode2session", params=params), 40163)


async def test_a_code_expires_after_five_virtual_minutes(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    login_code: LoginCode,
    expect_errcode: ExpectErrcode,
) -> None:
    code = (await login_code())["code"]
    sandbox.clock.advance(CODE_LIFETIME.total_seconds())
    response = await sandbox_client.get("/sns/jscode2session", params=session_params(mini, code))
    expect_errcode(response, 40029)


async def test_two_concurrent_redemptions_of_one_code_one_wins(
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    login_code: LoginCode,
    expect_errcode: ExpectErrcode,
) -> None:
    params = session_params(mini, (await login_code())["code"])
    answers = await asyncio.gather(
        sandbox_client.get("/sns/jscode2session", params=params),
        sandbox_client.get("/sns/jscode2session", params=params),
    )
    winners = [r for r in answers if "openid" in r.json()]
    losers = [r for r in answers if "openid" not in r.json()]
    assert len(winners) == 1
    assert len(losers) == 1
    expect_errcode(losers[0], 40163)


def test_two_concurrent_redemptions_over_real_http_one_wins(
    sandbox_server: tuple[Sandbox, Any],
) -> None:
    box, server = sandbox_server
    app = next(a for a in box.credentials.apps if a.type == "miniprogram")

    async def race() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            issued = (await client.post("/_sandbox/login-code", json={"appid": app.appid})).json()
            params = session_params(app, issued["code"])
            answers = await asyncio.gather(
                *(client.get("/sns/jscode2session", params=params) for _ in range(5))
            )
            return [r.json() for r in answers]

    answers = asyncio.run(race())
    assert sum("openid" in a for a in answers) == 1
    assert sorted(a.get("errcode", 0) for a in answers) == [0, 40163, 40163, 40163, 40163]


@pytest.mark.parametrize(
    ("drop", "change", "errcode"),
    [
        ("appid", {}, 41002),
        ("secret", {}, 41004),
        ("js_code", {}, 41008),
        ("grant_type", {}, 40002),
        (None, {"grant_type": "client_credential"}, 40002),
        (None, {"appid": "wx0000000000000000"}, 40013),
        (None, {"secret": "0" * 32}, 40125),
        (None, {"js_code": "unknown-code"}, 40029),
    ],
)
async def test_code2session_errors(
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    login_code: LoginCode,
    expect_errcode: ExpectErrcode,
    drop: str | None,
    change: dict[str, str],
    errcode: int,
) -> None:
    params = {**session_params(mini, (await login_code())["code"]), **change}
    if drop:
        del params[drop]
    expect_errcode(await sandbox_client.get("/sns/jscode2session", params=params), errcode)


async def test_a_code_of_the_mini_program_is_invalid_for_another_app(
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    login_code: LoginCode,
    expect_errcode: ExpectErrcode,
) -> None:
    code = (await login_code())["code"]
    response = await sandbox_client.get("/sns/jscode2session", params=session_params(oa, code))
    expect_errcode(response, 40029)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty body"),
        (b"[]", 400, "JSON object"),
        (b"{}", 400, "appid is required"),
        (b'{"appid": 7}', 400, "appid is required"),
        (b'{"appid": "wx0000000000000000"}', 404, "unknown appid"),
        (b'{"appid": "\\ud800"}', 404, "unknown appid"),
        (b'{"appid": "OA"}', 400, "not a mini program"),
        (b'{"appid": "MINI", "openid": "has space"}', 400, "openid must be"),
        (b'{"appid": "MINI", "openid": 12}', 400, "openid must be"),
    ],
)
async def test_login_code_refuses_bad_requests(
    expect_refused: ExpectRefused, body: bytes, status: int, message: str
) -> None:
    await expect_refused("/_sandbox/login-code", body, status, message)
