"""The client's access-token store in Redis, so that N replicas make ONE upstream token call.

:class:`~paydesk.client.tokens.AccessTokens` already makes one call per process (single
flight); with a :class:`RedisTokenStore` its refresh also takes a Redis lock and re-reads the
store under it, so the replicas that wait find the token the first one fetched (PROTOCOL.md
§4.2; https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken).

Each token is a JSON value under ``<prefix>token:<appid>`` that Redis drops when it expires.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager

from paydesk.cache._redis import Keyspace, Redis, decode_object, milliseconds, redis_errors
from paydesk.cache.clock import Clock, utc_now
from paydesk.cache.errors import CorruptEntry
from paydesk.cache.locks import Lease, Locks
from paydesk.client.tokens import CachedToken

__all__ = ["TOKEN_LOCK_TTL", "TOKEN_LOCK_WAIT", "RedisTokenStore", "decode_token"]

#: How long one refresh may hold the lock: above the client's worst case (3 tries of 10 s).
TOKEN_LOCK_TTL = 40.0
#: How long the other replicas wait for it: a refresher that died frees the lock in time.
TOKEN_LOCK_WAIT = 45.0

# Forget the token only if it is still the one the caller saw rejected: a replica that already
# stored a newer token must keep it.
_INVALIDATE = """
local stored = redis.call('GET', KEYS[1])
if not stored then
    return 0
end
local ok, token = pcall(cjson.decode, stored)
if ok and type(token) == 'table' and token['access_token'] == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisTokenStore:
    """A :class:`~paydesk.client.tokens.TokenStore` in Redis, its refresh lock in Redis too.

    ``AccessTokens(fetch, store=RedisTokenStore(client, keyspace, locks))`` in every replica.
    ``clock`` turns a token's ``expires_at`` (unix seconds) into a Redis time to live.
    """

    def __init__(
        self,
        client: Redis,
        keyspace: Keyspace,
        locks: Locks,
        *,
        clock: Clock = utc_now,
        lock_ttl: float = TOKEN_LOCK_TTL,
        lock_wait: float = TOKEN_LOCK_WAIT,
    ) -> None:
        self._client = client
        self._keys = keyspace
        self._locks = locks
        self._clock = clock
        self._lock_ttl = lock_ttl
        self._lock_wait = lock_wait
        self._invalidate_script = client.register_script(_INVALIDATE)

    async def get(self, appid: str) -> CachedToken | None:
        """The stored token of ``appid``, or ``None`` (never stored, invalidated or expired)."""
        key = self._keys.key("token", appid)
        with redis_errors(f"read the access token of {appid}"):
            raw = await self._client.get(key)
        if raw is None:
            return None
        return decode_token(raw, key)

    async def put(self, appid: str, token: CachedToken) -> None:
        """Store ``token`` as ``appid``'s; Redis drops it when it expires (by ``clock``)."""
        value = json.dumps({"access_token": token.access_token, "expires_at": token.expires_at})
        seconds_left = token.expires_at - self._clock().timestamp()
        with redis_errors(f"store the access token of {appid}"):
            await self._client.set(
                self._keys.key("token", appid), value, px=milliseconds(seconds_left)
            )

    async def invalidate(self, appid: str, token: str) -> None:
        """Forget ``token`` if it is still ``appid``'s stored token; a newer one is kept."""
        with redis_errors(f"invalidate the access token of {appid}"):
            await self._invalidate_script(keys=[self._keys.key("token", appid)], args=[token])

    def lock(self, appid: str) -> AbstractAsyncContextManager[Lease]:
        """The cross-process lock held while ``appid``'s token is refreshed."""
        return self._locks.lock(f"token:{appid}", ttl=self._lock_ttl, wait=self._lock_wait)


def decode_token(raw: str | bytes, key: str) -> CachedToken:
    """The token stored as ``raw`` under ``key``; :class:`CorruptEntry` if it is not one.

    >>> decode_token('{"access_token": "ACCESS", "expires_at": 7200}', "k").expires_at
    7200
    """
    stored = decode_object(raw, key)
    token, expires_at = stored.get("access_token"), stored.get("expires_at")
    if not isinstance(token, str) or type(expires_at) is not int:
        raise CorruptEntry(key)
    return CachedToken(token, expires_at=expires_at)
