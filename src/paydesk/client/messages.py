"""Customer-service messages: ``POST /cgi-bin/message/custom/send`` (PROTOCOL.md §4.3).

Doc: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/customer-message/api_send_msg_custom.html
Bodies are built by :mod:`paydesk.protocol.messages.push` (``custom_text``, ``custom_link``…).

Passive refresh: when WeChat rejects the access token (40001 "not latest", 42001 expired),
the token is invalidated, a new one fetched and the message sent once more — once, so a
token WeChat keeps rejecting surfaces as :class:`~paydesk.client.errors.AccessTokenRejected`
instead of a loop.

>>> MessagesClient.PATH
'/cgi-bin/message/custom/send'
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from paydesk.client._openapi import OpenApi
from paydesk.client._transport import Sleep
from paydesk.client.config import AppAccount, Endpoints
from paydesk.client.errors import AccessTokenRejected
from paydesk.client.tokens import AccessTokens

__all__ = ["MessagesClient"]


class MessagesClient:
    """Sends customer-service messages with the app's cached access token.

    ``await MessagesClient(endpoints, http, tokens).send_custom(app, custom_text(openid, "hi"))``
    """

    PATH = "/cgi-bin/message/custom/send"

    def __init__(
        self,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        tokens: AccessTokens,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._api = OpenApi(endpoints, http, timeout=timeout, retries=retries, sleep=sleep)
        self._tokens = tokens

    async def send_custom(self, app: AppAccount, body: Mapping[str, Any]) -> None:
        """Send one message (``{"touser", "msgtype", …}``) to a user of ``app``.

        Not resent after a 5xx or a timeout: the user might get it twice.
        """
        token = await self._tokens.get(app)
        try:
            await self._send(token, body)
        except AccessTokenRejected:
            await self._tokens.invalidate(app, token)
            await self._send(await self._tokens.get(app), body)

    async def _send(self, token: str, body: Mapping[str, Any]) -> None:
        await self._api.post(self.PATH, {"access_token": token}, body, idempotent=False)
