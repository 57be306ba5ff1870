"""Access tokens: /cgi-bin/token replaces with a 5-minute overlap, stable_token stays the same,
both expire after 7200 s of virtual time; 40001 for bad or replaced, 42001 for expired."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.tokens import (
    KEEP_EXPIRED,
    OVERLAP,
    TOKEN_LENGTH,
    TOKEN_LIFETIME,
    AccessTokens,
)
from paydesk.sandbox.identity.wxapi import WxError

ExpectErrcode = Callable[[httpx.Response, int], None]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def errcode_of(tokens: AccessTokens, token: str, when: datetime) -> int:
    try:
        tokens.check(token, when)
    except WxError as error:
        return error.errcode
    return 0


async def get_token(client: httpx.AsyncClient, app: AppCredentials) -> dict[str, Any]:
    params = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
    answer: dict[str, Any] = (await client.get("/cgi-bin/token", params=params)).json()
    return answer


async def stable(client: httpx.AsyncClient, app: AppCredentials, **extra: Any) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret, **extra}
    answer: dict[str, Any] = (await client.post("/cgi-bin/stable_token", json=body)).json()
    return answer


async def token_errcode(client: httpx.AsyncClient, token: str) -> int:
    """Probe a token through the send API: an empty body answers 44002 once the token passed."""
    response = await client.post("/cgi-bin/message/custom/send", params={"access_token": token})
    errcode: int = response.json()["errcode"]
    return 0 if errcode == 44002 else errcode


# ---- the token book, on pinned time ----


def test_a_new_token_leaves_the_previous_one_five_minutes_then_40001() -> None:
    tokens = AccessTokens(random.Random(1))
    first = tokens.issue("wxA", T0)
    second = tokens.issue("wxA", T0 + timedelta(minutes=1))
    assert len(first.token) == TOKEN_LENGTH
    assert first.token != second.token
    in_overlap = T0 + timedelta(minutes=1) + OVERLAP - timedelta(seconds=1)
    assert errcode_of(tokens, first.token, in_overlap) == 0
    assert errcode_of(tokens, first.token, in_overlap + timedelta(seconds=1)) == 40001
    assert errcode_of(tokens, second.token, in_overlap + timedelta(seconds=1)) == 0


def test_only_the_latest_token_is_retired_by_the_next_one() -> None:
    tokens = AccessTokens(random.Random(1))
    first = tokens.issue("wxA", T0)
    tokens.issue("wxA", T0 + timedelta(minutes=1))
    tokens.issue("wxA", T0 + timedelta(minutes=2))
    # The first one still retires at its own overlap end, not later.
    assert errcode_of(tokens, first.token, T0 + timedelta(minutes=6)) == 40001


def test_tokens_expire_after_7200_seconds_and_are_forgotten_a_day_later() -> None:
    tokens = AccessTokens(random.Random(1))
    issued = tokens.issue("wxA", T0)
    assert issued.expires_in(T0) == 7200
    assert issued.expires_in(T0 + TOKEN_LIFETIME * 2) == 0
    assert errcode_of(tokens, issued.token, T0 + TOKEN_LIFETIME - timedelta(seconds=1)) == 0
    assert errcode_of(tokens, issued.token, T0 + TOKEN_LIFETIME) == 42001
    later = T0 + TOKEN_LIFETIME + KEEP_EXPIRED + timedelta(seconds=1)
    tokens.issue("wxB", later)
    assert errcode_of(tokens, issued.token, later) == 40001


def test_tokens_of_two_apps_do_not_retire_each_other() -> None:
    tokens = AccessTokens(random.Random(1))
    a = tokens.issue("wxA", T0)
    tokens.issue("wxB", T0)
    assert errcode_of(tokens, a.token, T0 + timedelta(hours=1)) == 0
    tokens.reset()
    assert errcode_of(tokens, a.token, T0) == 40001


def test_stable_token_is_the_same_until_five_minutes_before_expiry() -> None:
    tokens = AccessTokens(random.Random(1))
    first = tokens.stable("wxA", T0, force_refresh=False)
    same = tokens.stable("wxA", T0 + timedelta(hours=1), force_refresh=False)
    assert same is first
    assert same.expires_in(T0 + timedelta(hours=1)) == 3600
    near_end = T0 + TOKEN_LIFETIME - timedelta(minutes=5)
    renewed = tokens.stable("wxA", near_end, force_refresh=False)
    assert renewed.token != first.token
    # The old one lives out its own time.
    assert errcode_of(tokens, first.token, near_end + timedelta(minutes=4)) == 0
    assert errcode_of(tokens, first.token, near_end + timedelta(minutes=5)) == 42001


def test_force_refresh_retires_the_stable_token_at_once() -> None:
    tokens = AccessTokens(random.Random(1))
    first = tokens.stable("wxA", T0, force_refresh=False)
    forced = tokens.stable("wxA", T0, force_refresh=True)
    assert forced.token != first.token
    assert errcode_of(tokens, first.token, T0) == 40001
    assert errcode_of(tokens, forced.token, T0) == 0
    fresh = AccessTokens(random.Random(1)).stable("wxA", T0, force_refresh=True)
    assert fresh.expires_in(T0) == 7200


def test_stable_and_plain_tokens_are_isolated() -> None:
    tokens = AccessTokens(random.Random(1))
    kept = tokens.stable("wxA", T0, force_refresh=False)
    tokens.issue("wxA", T0)
    tokens.issue("wxA", T0)
    assert tokens.stable("wxA", T0 + timedelta(hours=1), force_refresh=False) is kept
    plain = tokens.issue("wxA", T0)
    tokens.stable("wxA", T0, force_refresh=True)
    assert errcode_of(tokens, plain.token, T0 + timedelta(hours=1)) == 0


# ---- over HTTP ----


async def test_cgi_bin_token_answers_like_wechat(
    sandbox_client: httpx.AsyncClient, mini: AppCredentials
) -> None:
    answer = await get_token(sandbox_client, mini)
    assert set(answer) == {"access_token", "expires_in"}
    assert answer["expires_in"] == 7200
    assert await token_errcode(sandbox_client, answer["access_token"]) == 0


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"appid": "APP", "secret": "SECRET"}, 40002),
        ({"grant_type": "authorization_code", "appid": "APP", "secret": "SECRET"}, 40002),
        ({"grant_type": "client_credential", "secret": "SECRET"}, 41002),
        ({"grant_type": "client_credential", "appid": "APP"}, 41004),
        ({"grant_type": "client_credential", "appid": "wx0123456789abcdef", "secret": "x"}, 40013),
        ({"grant_type": "client_credential", "appid": "APP", "secret": "wrong"}, 40125),
    ],
)
async def test_cgi_bin_token_errors(
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    expect_errcode: ExpectErrcode,
    params: dict[str, str],
    errcode: int,
) -> None:
    real = {k: {"APP": mini.appid, "SECRET": mini.secret}.get(v, v) for k, v in params.items()}
    expect_errcode(await sandbox_client.get("/cgi-bin/token", params=real), errcode)


async def test_a_replaced_token_works_five_more_virtual_minutes(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    old = (await get_token(sandbox_client, oa))["access_token"]
    new = (await get_token(sandbox_client, oa))["access_token"]
    assert await token_errcode(sandbox_client, old) == 0
    sandbox.clock.advance(OVERLAP.total_seconds() - 5)
    assert await token_errcode(sandbox_client, old) == 0
    sandbox.clock.advance(10)
    assert await token_errcode(sandbox_client, old) == 40001
    assert await token_errcode(sandbox_client, new) == 0
    assert await token_errcode(sandbox_client, "not-a-token") == 40001


async def test_tokens_expire_on_a_fast_clock(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, mini: AppCredentials
) -> None:
    sandbox.clock.set_speed(20_000)  # 7200 virtual seconds in 0.36 wall seconds
    token = (await get_token(sandbox_client, mini))["access_token"]
    stable_token = (await stable(sandbox_client, mini))["access_token"]
    assert await token_errcode(sandbox_client, token) == 0
    await asyncio.sleep(0.5)
    assert await token_errcode(sandbox_client, token) == 42001
    assert await token_errcode(sandbox_client, stable_token) == 42001
    renewed = await stable(sandbox_client, mini)
    assert renewed["access_token"] != stable_token


async def test_stable_token_over_http(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, mini: AppCredentials
) -> None:
    first = await stable(sandbox_client, mini)
    assert first["expires_in"] == 7200
    sandbox.clock.advance(100)
    again = await stable(sandbox_client, mini, force_refresh=False)
    assert again["access_token"] == first["access_token"]
    assert 7098 <= again["expires_in"] <= 7100  # whole seconds; wall time passes too
    forced = await stable(sandbox_client, mini, force_refresh=True)
    assert forced["access_token"] != first["access_token"]
    assert await token_errcode(sandbox_client, first["access_token"]) == 40001
    assert await token_errcode(sandbox_client, forced["access_token"]) == 0


@pytest.mark.parametrize(
    ("content", "errcode"),
    [
        (b"", 44002),
        (b"   ", 44002),
        (b"{not json", 47001),
        (b"\xff\xfe", 47001),
        (b"[1]", 47001),
        (b'{"grant_type":"client_credential","appid":1,"secret":"x"}', 47001),
        (b'{"grant_type":"client_credential","appid":"APP","secret":"S","force_refresh":1}', 47001),
        (b'{"appid":"APP","secret":"S"}', 40002),
        (b'{"grant_type":"client_credential","secret":"S"}', 41002),
        (b'{"grant_type":"client_credential","appid":"APP","secret":"nope"}', 40125),
        (b'{"grant_type":"client_credential","appid":"APP","secret":"\\ud800"}', 40125),
        (b"{" + b" " * 5000 + b"}", 45002),
    ],
)
async def test_stable_token_errors(
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    expect_errcode: ExpectErrcode,
    content: bytes,
    errcode: int,
) -> None:
    body = content.replace(b'"APP"', f'"{mini.appid}"'.encode()).replace(
        b'"S"', f'"{mini.secret}"'.encode()
    )
    response = await sandbox_client.post("/cgi-bin/stable_token", content=body)
    expect_errcode(response, errcode)
