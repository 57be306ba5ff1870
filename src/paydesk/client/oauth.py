"""Official-account web authorization: code → user access token → user info (PROTOCOL.md §4.5).

Docs: https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html
(``sns/oauth2/access_token``, ``sns/oauth2/refresh_token``) and
https://developers.weixin.qq.com/doc/service/api/webdev/access/api_snsuserinfo (``sns/userinfo``).
The authorize URL itself is built by :func:`paydesk.protocol.oauth.authorize_url`.

>>> OAuthToken(access_token="AT", expires_in=7200, refresh_token="RT", openid="o1",
...            scope="snsapi_base")
OAuthToken(expires_in=7200, openid='o1', scope='snsapi_base', unionid=None, is_snapshotuser=False)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from paydesk.client._openapi import OpenApi, required_text
from paydesk.client._transport import Sleep
from paydesk.client.config import AppAccount, Endpoints
from paydesk.client.errors import UnexpectedResponse

__all__ = ["OAuthClient", "OAuthToken", "UserInfo"]


@dataclass(frozen=True)
class OAuthToken:
    """A user's web access token (not the app's access token); tokens stay out of ``repr``."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(repr=False)
    openid: str
    scope: str
    unionid: str | None = None
    #: 1 in WeChat's answer for the virtual user of a "snapshot page" (no real consent).
    is_snapshotuser: bool = False


@dataclass(frozen=True)
class UserInfo:
    """``sns/userinfo``: needs a ``snsapi_userinfo`` token. ``sex``: 1 male, 2 female, 0 unknown.

    >>> UserInfo(openid="o1", nickname="Ada").headimgurl
    ''
    """

    openid: str
    nickname: str = ""
    sex: int = 0
    province: str = ""
    city: str = ""
    country: str = ""
    headimgurl: str = ""
    privilege: tuple[str, ...] = ()
    unionid: str | None = None


def _optional_text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and value else None


def _int(payload: Mapping[str, Any], name: str, default: int) -> int:
    value = payload.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UnexpectedResponse(f"answer field {name} is not a number: {value!r}")
    return value


def _token(payload: Mapping[str, Any]) -> OAuthToken:
    return OAuthToken(
        access_token=required_text(payload, "access_token"),
        expires_in=_int(payload, "expires_in", 7200),
        refresh_token=required_text(payload, "refresh_token"),
        openid=required_text(payload, "openid"),
        scope=_optional_text(payload, "scope") or "",
        unionid=_optional_text(payload, "unionid"),
        is_snapshotuser=_int(payload, "is_snapshotuser", 0) == 1,
    )


class OAuthClient:
    """The three server-side OAuth calls: ``exchange_code``, ``refresh`` and ``userinfo``.

    ``token = await OAuthClient(endpoints, http).exchange_code(app, code)``
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

    async def exchange_code(self, app: AppAccount, code: str) -> OAuthToken:
        """Trade the ``code`` of the redirect for a token; single-use, so never resent after
        an answer may have been lost (:class:`~paydesk.client.errors.LoginError` for 40029,
        40163, 42003)."""
        payload = await self._api.get(
            "/sns/oauth2/access_token",
            {
                "appid": app.appid,
                "secret": app.secret,
                "code": code,
                "grant_type": "authorization_code",
            },
            idempotent=False,
        )
        return _token(payload)

    async def refresh(self, app: AppAccount, refresh_token: str) -> OAuthToken:
        """A fresh access token from a ``refresh_token`` (valid for 30 days or more)."""
        payload = await self._api.get(
            "/sns/oauth2/refresh_token",
            {"appid": app.appid, "grant_type": "refresh_token", "refresh_token": refresh_token},
        )
        return _token(payload)

    async def userinfo(self, access_token: str, openid: str, *, lang: str = "zh_CN") -> UserInfo:
        """The user's profile; ``ApiError`` 48001 when the token's scope is ``snsapi_base``."""
        payload = await self._api.get(
            "/sns/userinfo", {"access_token": access_token, "openid": openid, "lang": lang}
        )
        privilege = payload.get("privilege") or []
        if not isinstance(privilege, list):
            raise UnexpectedResponse("answer field privilege is not a list")
        return UserInfo(
            openid=required_text(payload, "openid"),
            nickname=_optional_text(payload, "nickname") or "",
            sex=_int(payload, "sex", 0),
            province=_optional_text(payload, "province") or "",
            city=_optional_text(payload, "city") or "",
            country=_optional_text(payload, "country") or "",
            headimgurl=_optional_text(payload, "headimgurl") or "",
            privilege=tuple(str(item) for item in privilege),
            unionid=_optional_text(payload, "unionid"),
        )
