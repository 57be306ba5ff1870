"""Fixtures for the Identity part: the two sandbox apps, and small helpers that play the
user's side (``wx.login``, a push URL that answers as told)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials

LoginCode = Callable[..., Awaitable[dict[str, Any]]]
ExpectErrcode = Callable[[httpx.Response, int], None]
ExpectRefused = Callable[[str, bytes, int, str], Awaitable[None]]
RID = re.compile(r", rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$")


@pytest.fixture
def expect_errcode() -> ExpectErrcode:
    """``expect_errcode(response, 40029)``: WeChat's HTTP 200 error body with its rid suffix."""

    def check(response: httpx.Response, errcode: int) -> None:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["errcode"] == errcode, body
        assert RID.search(body["errmsg"]), body
        assert set(body) == {"errcode", "errmsg"}

    return check


@pytest.fixture
def expect_refused(
    sandbox_client: httpx.AsyncClient, mini: AppCredentials, oa: AppCredentials
) -> ExpectRefused:
    """``await expect_refused(path, body, status, message)``: POST ``body`` to a ``/_sandbox/``
    control endpoint, its ``MINI`` and ``"OA"`` standing for the two apps' appids, and check
    the sandbox's own error: ``status``, ``PARAM_ERROR``, ``message`` in its text."""

    async def check(path: str, body: bytes, status: int, message: str) -> None:
        content = body.replace(b"MINI", mini.appid.encode())
        content = content.replace(b'"OA"', f'"{oa.appid}"'.encode())
        response = await sandbox_client.post(path, content=content)
        assert response.status_code == status, response.text
        assert response.json()["code"] == "PARAM_ERROR"
        assert message in response.json()["message"]

    return check


@pytest.fixture
def mini(sandbox: Sandbox) -> AppCredentials:
    """The sandbox's mini program."""
    return next(a for a in sandbox.credentials.apps if a.type == "miniprogram")


@pytest.fixture
def oa(sandbox: Sandbox) -> AppCredentials:
    """The sandbox's official account."""
    return next(a for a in sandbox.credentials.apps if a.type == "official_account")


@pytest.fixture
def login_code(sandbox_client: httpx.AsyncClient, mini: AppCredentials) -> LoginCode:
    """``await login_code(openid=None, appid=mini)`` → ``{"code", "openid", "unionid"}``."""

    async def issue(openid: str | None = None, appid: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"appid": appid or mini.appid}
        if openid is not None:
            body["openid"] = openid
        response = await sandbox_client.post("/_sandbox/login-code", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    return issue


@pytest.fixture
def oauth_code(sandbox_client: httpx.AsyncClient, oa: AppCredentials) -> LoginCode:
    """``await oauth_code(openid=None, scope="snsapi_base")`` → ``{"code", "openid", …}``."""

    async def issue(openid: str | None = None, scope: str = "snsapi_base") -> dict[str, Any]:
        body: dict[str, Any] = {"appid": oa.appid, "scope": scope}
        if openid is not None:
            body["openid"] = openid
        response = await sandbox_client.post("/_sandbox/oauth-code", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    return issue
