"""Rate limits on what a mini program user can make paydesk do: log in, pay, ask WeChat.

Each limit is a sliding window counted by the cache's rate limiter (shared by every replica
when Redis is configured). A refused hit is a :class:`~paydesk.domain.errors.RateLimited`
carrying ``retry_after`` in whole seconds, which the API sends as ``Retry-After``.

>>> LOGIN_PER_CLIENT
Limit(limit=30, window_seconds=60.0, what='logins from this address')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from paydesk.domain.errors import RateLimited

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = [
    "LOGIN_PER_CLIENT",
    "LOGIN_PER_CODE",
    "PAY_PER_USER",
    "SYNC_PER_ORDER",
    "Limit",
    "enforce",
]


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits in any ``window_seconds``; ``what`` names them in the error."""

    limit: int
    window_seconds: float
    what: str


#: Per (app, client address): many users may share one address behind a carrier's NAT.
LOGIN_PER_CLIENT = Limit(30, 60.0, "logins from this address")
#: Per code: a retrying client polls at most this often; a code lives 5 minutes anyway.
LOGIN_PER_CODE = Limit(20, 60.0, "submissions of this login code")
#: Per user: each pay call may cost a prepay at WeChat.
PAY_PER_USER = Limit(20, 60.0, "pay requests")
#: Per order: each ``?sync=true`` on a PAYING order is a query at WeChat.
SYNC_PER_ORDER = Limit(30, 60.0, "status checks of this order")


async def enforce(services: Services, key: str, limit: Limit) -> None:
    """Count a hit on ``key``; RateLimited (with ``retry_after``) when over ``limit``.

    ``await enforce(services, f"pay:{user_id}", PAY_PER_USER)``
    """
    decision = await services.cache.limits.hit(
        key, limit=limit.limit, window_seconds=limit.window_seconds
    )
    if not decision.allowed:
        seconds = int(decision.retry_after_header)
        raise RateLimited(
            "rate_limited",
            f"too many {limit.what}; try again in {seconds} s",
            retry_after=seconds,
        )
