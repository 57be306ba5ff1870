"""Helpers for the mini program user's tests (domain and API): stacks, logins, the payer.

A user stack is the usual ``make_stack`` stack, on Redis when the run has one (the postgresql
backend) under a key prefix of its own, so rate limits never leak between tests.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from paydesk.sandbox.identity.login import MiniProgramLogin
from tests.stack import MINI_APPID, Stack, StackFactory


async def open_user_stack(
    make_stack: StackFactory, redis_url: str | None, redis_prefix: str, **options: Any
) -> Stack:
    """``make_stack(**options)``, with the run's Redis (if any) as the cache."""
    settings = dict(options.pop("settings", None) or {})
    if redis_url is not None:
        settings |= {
            "redis_url": redis_url,
            "redis_prefix": f"{redis_prefix}{secrets.token_hex(4)}:",
        }
    return await make_stack(settings=settings, **options)


def count_code_exchanges(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every ``js_code`` the sandbox's ``jscode2session`` receives (call before the
    stack is built: the sandbox binds its routes then)."""
    codes: list[str] = []
    original: Callable[[MiniProgramLogin, Request], Awaitable[Response]]
    original = MiniProgramLogin.jscode2session

    async def counted(self: MiniProgramLogin, request: Request) -> Response:
        codes.append(request.query_params.get("js_code", ""))
        return await original(self, request)

    monkeypatch.setattr(MiniProgramLogin, "jscode2session", counted)
    return codes


async def login_code(
    stack: Stack, appid: str = MINI_APPID, openid: str | None = None
) -> dict[str, str]:
    """What ``wx.login`` gives the mini program: ``{"code", "openid", "unionid"}``."""
    body = {"appid": appid} if openid is None else {"appid": appid, "openid": openid}
    response = await stack.sandbox_client.post("/_sandbox/login-code", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, str] = response.json()
    return result


async def submit_code(
    stack: Stack, code: str, appid: str = MINI_APPID, **extra: str
) -> httpx.Response:
    """``POST /api/v1/auth/miniprogram``."""
    return await stack.api.post(
        "/api/v1/auth/miniprogram", json={"appid": appid, "code": code}, headers=extra or None
    )


@dataclass(frozen=True)
class LoggedIn:
    """A logged-in mini program user."""

    token: str
    user: dict[str, Any]
    code: str
    expires_at: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` for the user's requests."""
        return {"Authorization": f"Bearer {self.token}"}


async def log_in(stack: Stack, openid: str | None = None) -> LoggedIn:
    """A new ``wx.login`` code, exchanged at paydesk (asserts 200)."""
    code = (await login_code(stack, openid=openid))["code"]
    response = await submit_code(stack, code)
    assert response.status_code == 200, response.text
    body = response.json()
    return LoggedIn(body["token"], body["user"], code, body["expires_at"])


async def pay(stack: Stack, order_id: str, user: LoggedIn, **body: Any) -> httpx.Response:
    """``POST /api/v1/orders/{id}/pay`` as ``user`` (channel ``miniprogram`` unless given)."""
    return await stack.api.post(
        f"/api/v1/orders/{order_id}/pay",
        json={"channel": "miniprogram", **body},
        headers=user.headers,
    )


def prepay_id(params: dict[str, str]) -> str:
    """The prepay id inside ``package``."""
    return params["package"].removeprefix("prepay_id=")


def tampered(signature: str) -> str:
    """``signature`` with its first character changed (same alphabet: hex or base64)."""
    return ("B" if signature[0] == "A" else "A") + signature[1:]


async def payer_pays(
    stack: Stack, params: dict[str, str], *, pay_sign: str | None = None
) -> httpx.Response:
    """The sandbox payer confirms the pay sheet, with the client's parameters and signature:
    the sandbox checks ``paySign`` exactly as WeChat's client does."""
    body = {
        "prepay_id": prepay_id(params),
        "result": "SUCCESS",
        "pay_sign": pay_sign if pay_sign is not None else params["paySign"],
        "timestamp": params["timeStamp"],
        "nonce_str": params["nonceStr"],
        "sign_type": params["signType"],
    }
    return await stack.sandbox_client.post("/_sandbox/pay", json=body)


async def add_fault(stack: Stack, **rule: Any) -> None:
    """Switch a sandbox fault on (``/_sandbox/faults``)."""
    response = await stack.sandbox_client.post("/_sandbox/faults", json=rule)
    assert response.status_code == 200, response.text


async def clear_faults(stack: Stack) -> None:
    """Switch every sandbox fault off."""
    response = await stack.sandbox_client.delete("/_sandbox/faults")
    assert response.status_code == 200, response.text


class UserStacks:
    """Builds user stacks and closes their caches (Redis connections) at the end of a test.

    Tests get one as the ``stacks`` fixture (``tests/domain/users/fixtures.py``).
    """

    def __init__(self, make_stack: StackFactory, redis_url: str | None, redis_prefix: str) -> None:
        self._make_stack = make_stack
        self._redis_url = redis_url
        self._redis_prefix = redis_prefix
        self._opened: list[Stack] = []

    async def build(self, **options: Any) -> Stack:
        """A new user stack (``options`` go to ``make_stack``)."""
        stack = await open_user_stack(
            self._make_stack, self._redis_url, self._redis_prefix, **options
        )
        self._opened.append(stack)
        return stack

    async def __aenter__(self) -> UserStacks:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for stack in self._opened:
            await stack.services.cache.aclose()
