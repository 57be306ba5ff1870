"""App access tokens: fetched once, shared, refreshed early (PROTOCOL.md §4.2).

Docs: https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken
(``POST /cgi-bin/stable_token``, the default) and ``GET /cgi-bin/token`` (each call there
invalidates the previous token, so it is only for apps that already use it).

:class:`AccessTokens` is a single flight: however many tasks ask at once, one upstream call
is made, and its answer (or its error) goes to all of them. Across processes the
:class:`TokenStore`'s ``lock`` serialises refreshes (a Redis store comes with the service).

>>> CachedToken("ACCESS", expires_at=10_000).fresh(now=9_699)
True
>>> CachedToken("ACCESS", expires_at=10_000).fresh(now=9_700)  # 5 minutes early
False
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from paydesk.client._openapi import OpenApi, required_text
from paydesk.client._transport import Sleep
from paydesk.client.config import AppAccount, Clock, Endpoints, unix_time
from paydesk.client.errors import UnexpectedResponse

__all__ = [
    "REFRESH_MARGIN",
    "AccessTokens",
    "CachedToken",
    "MemoryTokenStore",
    "TokenClient",
    "TokenFetcher",
    "TokenStore",
]

#: Refresh this many seconds before expiry; ``stable_token`` renews 5 minutes early too.
REFRESH_MARGIN = 300


@dataclass(frozen=True)
class CachedToken:
    """An access token and when it expires (unix seconds); the token stays out of ``repr``."""

    access_token: str = field(repr=False)
    expires_at: int

    def fresh(self, now: int, margin: int = REFRESH_MARGIN) -> bool:
        """True while the token has more than ``margin`` seconds left."""
        return now < self.expires_at - margin


class TokenStore(Protocol):
    """Where tokens are kept: process memory here, Redis in a multi-process deployment."""

    async def get(self, appid: str) -> CachedToken | None:
        """The stored token of ``appid``, if any (fresh or not)."""
        ...

    async def put(self, appid: str, token: CachedToken) -> None:
        """Store ``token`` as the current token of ``appid``."""
        ...

    async def invalidate(self, appid: str, token: str) -> None:
        """Forget ``token`` — only if it is still the stored one (a newer one is kept)."""
        ...

    def lock(self, appid: str) -> AbstractAsyncContextManager[Any]:
        """A lock held while ``appid``'s token is refreshed."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in this process's memory.

    >>> store = MemoryTokenStore()
    >>> asyncio.run(store.get("wx1")) is None
    True
    """

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, appid: str) -> CachedToken | None:
        """The stored token of ``appid``, if any."""
        return self._tokens.get(appid)

    async def put(self, appid: str, token: CachedToken) -> None:
        """Store ``token`` for ``appid``."""
        self._tokens[appid] = token

    async def invalidate(self, appid: str, token: str) -> None:
        """Drop the stored token of ``appid`` if it is ``token``."""
        current = self._tokens.get(appid)
        if current is not None and current.access_token == token:
            del self._tokens[appid]

    def lock(self, appid: str) -> asyncio.Lock:
        """One ``asyncio.Lock`` per app."""
        return self._locks.setdefault(appid, asyncio.Lock())


#: Fetches a new token for an app from WeChat.
TokenFetcher = Callable[[AppAccount], Awaitable[CachedToken]]


class TokenClient:
    """The two upstream token calls, each returning a :class:`CachedToken`.

    ``AccessTokens(fetch=TokenClient(endpoints, http).stable_token)``
    """

    def __init__(
        self,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        *,
        clock: Clock = unix_time,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._api = OpenApi(endpoints, http, timeout=timeout, retries=retries, sleep=sleep)
        self._clock = clock

    async def stable_token(self, app: AppAccount, *, force_refresh: bool = False) -> CachedToken:
        """``POST /cgi-bin/stable_token``: the same token while it is valid.

        ``force_refresh=True`` revokes the current one (WeChat allows 20 a day).
        """
        body = {
            "grant_type": "client_credential",
            "appid": app.appid,
            "secret": app.secret,
            "force_refresh": force_refresh,
        }
        return self._cached(await self._api.post("/cgi-bin/stable_token", {}, body))

    async def token(self, app: AppAccount) -> CachedToken:
        """``GET /cgi-bin/token``: a new token that replaces the previous one."""
        params = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
        return self._cached(await self._api.get("/cgi-bin/token", params, idempotent=False))

    def _cached(self, payload: dict[str, Any]) -> CachedToken:
        expires_in = payload.get("expires_in")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise UnexpectedResponse(f"expires_in {expires_in!r} is not a positive number")
        return CachedToken(required_text(payload, "access_token"), self._clock() + expires_in)


class AccessTokens:
    """The current access token of each app, fetched once however many tasks ask.

    ``token = await tokens.get(app)``; after WeChat rejects it (40001, 42001),
    ``await tokens.invalidate(app, token)`` and ask again.
    """

    def __init__(
        self,
        fetch: TokenFetcher,
        store: TokenStore | None = None,
        *,
        clock: Clock = unix_time,
        refresh_margin: int = REFRESH_MARGIN,
    ) -> None:
        self._fetch = fetch
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self._clock = clock
        self._margin = refresh_margin
        self._inflight: dict[str, asyncio.Task[str]] = {}

    async def get(self, app: AppAccount) -> str:
        """A token with more than ``refresh_margin`` seconds left, fetching one if needed."""
        cached = await self.store.get(app.appid)
        if cached is not None and cached.fresh(self._clock(), self._margin):
            return cached.access_token
        task = self._inflight.get(app.appid)
        if task is None:
            task = asyncio.ensure_future(self._refresh(app))
            self._inflight[app.appid] = task
            task.add_done_callback(lambda done: self._settle(app.appid, done))
        # Shielded: one waiter giving up must not cancel the refresh the others wait for.
        return await asyncio.shield(task)

    async def invalidate(self, app: AppAccount, token: str) -> None:
        """Forget ``token`` (WeChat said it is invalid or expired); a newer one is kept."""
        await self.store.invalidate(app.appid, token)

    async def _refresh(self, app: AppAccount) -> str:
        async with self.store.lock(app.appid):
            # Another process may have refreshed while we waited for the lock.
            cached = await self.store.get(app.appid)
            if cached is not None and cached.fresh(self._clock(), self._margin):
                return cached.access_token
            fetched = await self._fetch(app)
            await self.store.put(app.appid, fetched)
            return fetched.access_token

    def _settle(self, appid: str, done: asyncio.Task[str]) -> None:
        # The slot is only refilled once empty, so the finished task is always the one here.
        del self._inflight[appid]
        # Retrieve the outcome here, so an error nobody is left to await is not logged.
        _ = done.cancelled() or done.exception()
