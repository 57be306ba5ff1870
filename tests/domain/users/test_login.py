"""``login_with_code``: what happens around the one call to ``jscode2session``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from paydesk import client
from paydesk.db.models import LoginCode
from paydesk.domain.errors import Conflict, InvalidInput, NotFound, UpstreamFailed
from paydesk.domain.users import claims
from paydesk.domain.users import login as login_module
from paydesk.domain.users.login import login_with_code, refusal
from paydesk.domain.users.tokens import session_token
from tests.domain.users.support import login_code
from tests.stack import MINI_APPID, OA_APPID, Stack

pytestmark = pytest.mark.backends


async def claims_left(stack: Stack) -> int:
    async with stack.services.db() as session:
        return int(await session.scalar(select(func.count()).select_from(LoginCode)) or 0)


async def test_the_token_is_derived_from_the_code(users: Stack, exchanges: list[str]) -> None:
    issued = await login_code(users)
    login = await login_with_code(users.services, MINI_APPID, issued["code"], client_ip=None)
    assert login.token == session_token(users.services.secret_key, MINI_APPID, issued["code"])
    assert login.user.openid == issued["openid"]
    assert login.user.unionid == issued["unionid"]
    again = await login_with_code(
        users.services, MINI_APPID, issued["code"], client_ip="203.0.113.9"
    )
    assert again.token == login.token
    assert again.user.id == login.user.id
    assert again.expires_at == login.expires_at
    assert exchanges == [issued["code"]]


async def test_only_configured_mini_programs_log_in(users: Stack) -> None:
    with pytest.raises(NotFound):
        await login_with_code(users.services, "wx0000000000000000", "c", client_ip=None)
    with pytest.raises(InvalidInput) as raised:
        await login_with_code(users.services, OA_APPID, "c", client_ip=None)
    assert raised.value.code == "not_a_miniprogram"


async def test_a_cancelled_exchange_releases_the_code(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def hang(*args: Any) -> client.Session:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    monkeypatch.setattr(users.services.wechat.login, "code_to_session", hang)
    task = asyncio.create_task(login_with_code(users.services, MINI_APPID, "c1", client_ip=None))
    await started.wait()
    assert await claims_left(users) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await claims_left(users) == 0


async def test_a_wechat_error_that_is_not_about_the_code_releases_it(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def wrong_secret(*args: Any) -> client.Session:
        raise client.ApiError("invalid appsecret", errcode=40125)

    monkeypatch.setattr(users.services.wechat.login, "code_to_session", wrong_secret)
    with pytest.raises(UpstreamFailed) as raised:
        await login_with_code(users.services, MINI_APPID, "c1", client_ip=None)
    assert raised.value.code == "wechat_40125"
    assert raised.value.retryable is False
    assert await claims_left(users) == 0


async def test_a_storage_failure_after_the_exchange_releases_the_code(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(login_module, "remember_user", broken)
    issued = await login_code(users)
    with pytest.raises(RuntimeError):
        await login_with_code(users.services, MINI_APPID, issued["code"], client_ip=None)
    assert await claims_left(users) == 0
    # The code is spent at WeChat now: a retry is told to log in again.
    monkeypatch.undo()
    with pytest.raises(InvalidInput) as raised:
        await login_with_code(users.services, MINI_APPID, issued["code"], client_ip=None)
    assert raised.value.code == "login_code_rejected"
    assert "40163" in raised.value.message


@pytest.mark.parametrize(
    ("errcode", "reason"),
    [
        ("40029", "invalid or expired"),
        ("40163", "already used"),
        ("42003", "has expired"),
        ("40226", "high-risk"),
        ("40099", "errcode list"),
        ("", "?"),
    ],
)
def test_refusals_say_why_and_what_to_do(errcode: str, reason: str) -> None:
    error = refusal(errcode)
    assert error.code == "login_code_rejected"
    assert reason in error.message
    assert error.message.endswith("call wx.login again")
    assert error.details == {"wechat_errcode": errcode}


async def test_a_code_whose_claims_keep_vanishing_is_given_up(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never_ours(*args: Any, **kwargs: Any) -> bool:
        return False

    async def released(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(claims, "try_claim", never_ours)
    monkeypatch.setattr(claims, "wait", released)
    with pytest.raises(Conflict) as raised:
        await login_with_code(users.services, MINI_APPID, "c1", client_ip=None)
    assert raised.value.code == "login_in_progress"
