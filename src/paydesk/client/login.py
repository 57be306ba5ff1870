"""Mini program login: ``wx.login`` code → ``openid`` + ``session_key`` (PROTOCOL.md §4.1).

Doc: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session

A code is single-use and lives 5 minutes. It is never resent after an HTTP error or a
timeout — the first attempt may have spent it (WeChat then says 40163) — only after a
failure to connect.

>>> Session(openid="o1", session_key="secret")
Session(openid='o1', unionid=None)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from paydesk.client._openapi import OpenApi, required_text
from paydesk.client._transport import Sleep
from paydesk.client.config import AppAccount, Endpoints

__all__ = ["LoginClient", "Session"]


@dataclass(frozen=True)
class Session:
    """What ``jscode2session`` gives: ``session_key`` stays on the server and out of logs."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


class LoginClient:
    """``code_to_session`` against ``/sns/jscode2session``.

    ``LoginClient(Endpoints.sandbox(url), http).code_to_session(app, code)``
    """

    def __init__(
        self,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._api = OpenApi(endpoints, http, timeout=timeout, retries=retries, sleep=sleep)

    async def code_to_session(self, app: AppAccount, code: str) -> Session:
        """Exchange a ``wx.login`` code; :class:`~paydesk.client.errors.LoginError` for an
        invalid (40029), used (40163) or blocked (40226) code."""
        payload = await self._api.get(
            "/sns/jscode2session",
            {
                "appid": app.appid,
                "secret": app.secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
            idempotent=False,
        )
        unionid = payload.get("unionid")
        return Session(
            openid=required_text(payload, "openid"),
            session_key=required_text(payload, "session_key"),
            unionid=unionid if isinstance(unionid, str) and unionid else None,
        )
