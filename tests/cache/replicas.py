"""The replicas cache tests build: a recording Redis client and the factory's type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis

from paydesk.cache import Cache

__all__ = ["MakeCache", "RecordingRedis"]

#: Commands that name no key.
_KEYLESS = {"PING", "SCRIPT", "SCAN", "CLIENT", "HELLO", "SELECT"}


class RecordingRedis(Redis):
    """A real Redis client that also notes the keys of every command it sends."""

    touched: list[str]

    @classmethod
    def connect(cls, url: str) -> RecordingRedis:
        """A client of ``url`` that decodes replies to ``str``, with nothing recorded yet."""
        client = cast(RecordingRedis, cls.from_url(url, decode_responses=True))
        client.touched = []
        return client

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Record the command's keys, then send it."""
        name = str(args[0]).split()[0].upper()  # "SCRIPT LOAD" arrives as one argument
        if name in ("EVALSHA", "EVAL"):
            self.touched.extend(str(key) for key in args[3 : 3 + int(args[2])])
        elif name not in _KEYLESS:
            self.touched.append(str(args[1]))
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


#: ``await make_cache()`` / ``await make_cache(database=..., clock=...)``: one more replica.
MakeCache = Callable[..., Awaitable[Cache]]
