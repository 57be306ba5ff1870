"""The async client for WeChat's APIs: Pay v3 and v2, login, access tokens, OAuth, messages.

:class:`WeChatClient` bundles one ``httpx.AsyncClient`` and a client per concern for a set of
merchants and apps. Base URLs and the httpx transport are injected: the real hosts by
default, or the sandbox — in-process through ``httpx.ASGITransport`` or over HTTP::

    client = WeChatClient(
        merchants=[merchant], apps=[app],
        endpoints=Endpoints.sandbox("http://sandbox.test"),
        transport=httpx.ASGITransport(app=sandbox.asgi()),
    )
    async with client:
        session = await client.login.code_to_session(app, code)
        prepay = await client.pay_v3(merchant.mchid).prepay("jsapi", request)

Errors: :mod:`paydesk.client.errors`, one tree named for what the caller should do.

>>> sorted(WeChatClient(apps=[AppAccount("wx1", "s")]).apps)
['wx1']
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType

import httpx

from paydesk.client._transport import Sleep
from paydesk.client.config import (
    AppAccount,
    Clock,
    Endpoints,
    MerchantAccount,
    NonceSource,
    random_nonce,
    unix_time,
)
from paydesk.client.errors import (
    AccessTokenRejected,
    ApiError,
    AuthenticationFailed,
    InvalidRequest,
    LoginError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Refused,
    ResponseNotVerified,
    TransportFailed,
    UnexpectedResponse,
    UpstreamUnavailable,
    WeChatApiError,
    WeChatError,
)
from paydesk.client.login import LoginClient, Session
from paydesk.client.messages import MessagesClient
from paydesk.client.oauth import OAuthClient, OAuthToken, UserInfo
from paydesk.client.pay_v2 import PayV2Client
from paydesk.client.pay_v3 import PayV3Client
from paydesk.client.tokens import (
    AccessTokens,
    CachedToken,
    MemoryTokenStore,
    TokenClient,
    TokenStore,
)

__all__ = [
    "AccessTokenRejected",
    "AccessTokens",
    "ApiError",
    "AppAccount",
    "AuthenticationFailed",
    "CachedToken",
    "Endpoints",
    "InvalidRequest",
    "LoginClient",
    "LoginError",
    "MemoryTokenStore",
    "MerchantAccount",
    "MessagesClient",
    "NotFound",
    "OAuthClient",
    "OAuthToken",
    "OutcomeUnknown",
    "PayV2Client",
    "PayV3Client",
    "RateLimited",
    "Refused",
    "ResponseNotVerified",
    "Session",
    "TokenClient",
    "TokenStore",
    "TransportFailed",
    "UnexpectedResponse",
    "UpstreamUnavailable",
    "UserInfo",
    "WeChatApiError",
    "WeChatClient",
    "WeChatError",
]


class WeChatClient:
    """Every WeChat API the service calls, for a set of merchants and apps, over one
    ``httpx.AsyncClient``.

    :attr:`tokens` fetches from ``/cgi-bin/stable_token`` (the same token while it is valid)
    unless ``use_stable_token=False`` picks ``/cgi-bin/token`` (each fetch replaces the last).
    """

    def __init__(
        self,
        *,
        merchants: Iterable[MerchantAccount] = (),
        apps: Iterable[AppAccount] = (),
        endpoints: Endpoints | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = unix_time,
        nonce: NonceSource = random_nonce,
        token_store: TokenStore | None = None,
        use_stable_token: bool = True,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.endpoints = endpoints if endpoints is not None else Endpoints()
        self.http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self.merchants = {m.mchid: m for m in merchants}
        self.apps = {a.appid: a for a in apps}
        self.login = LoginClient(
            self.endpoints, self.http, timeout=timeout, retries=retries, sleep=sleep
        )
        self.oauth = OAuthClient(
            self.endpoints, self.http, timeout=timeout, retries=retries, sleep=sleep
        )
        self.token_client = TokenClient(
            self.endpoints, self.http, clock=clock, timeout=timeout, retries=retries, sleep=sleep
        )
        fetch = self.token_client.stable_token if use_stable_token else self.token_client.token
        self.tokens = AccessTokens(fetch, token_store, clock=clock)
        self.messages = MessagesClient(
            self.endpoints, self.http, self.tokens, timeout=timeout, retries=retries, sleep=sleep
        )
        self._v3 = {
            mchid: PayV3Client(
                account,
                endpoints=self.endpoints,
                http=self.http,
                clock=clock,
                nonce=nonce,
                retries=retries,
                timeout=timeout,
                sleep=sleep,
            )
            for mchid, account in self.merchants.items()
        }
        self._v2 = {
            mchid: PayV2Client(
                account,
                endpoints=self.endpoints,
                http=self.http,
                nonce=nonce,
                retries=retries,
                timeout=timeout,
                sleep=sleep,
            )
            for mchid, account in self.merchants.items()
            if account.v2_key is not None
        }

    def pay_v3(self, mchid: str) -> PayV3Client:
        """The Pay v3 client of merchant ``mchid`` (``KeyError`` if not configured)."""
        try:
            return self._v3[mchid]
        except KeyError:
            raise KeyError(f"no merchant {mchid} is configured") from None

    def pay_v2(self, mchid: str) -> PayV2Client:
        """The Pay v2 client of merchant ``mchid`` (``KeyError`` without a v2 key)."""
        try:
            return self._v2[mchid]
        except KeyError:
            raise KeyError(f"no merchant {mchid} with an APIv2 key is configured") from None

    def app(self, appid: str) -> AppAccount:
        """The configured app ``appid`` (``KeyError`` if not configured)."""
        try:
            return self.apps[appid]
        except KeyError:
            raise KeyError(f"no app {appid} is configured") from None

    async def aclose(self) -> None:
        """Close the HTTP client (and its connections)."""
        await self.http.aclose()

    async def __aenter__(self) -> WeChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
