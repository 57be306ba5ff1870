"""``Idempotency-Key`` with Stripe's semantics, stored in ``idempotency_keys``.

* same key, same request → the stored response, replayed (status and body);
* same key, another request (method, path or body differ) → 409 ``idempotency_key_reused``;
* same key while the first is still running → 409 ``idempotency_key_in_use`` (a lock older than
  :data:`STALE_LOCK` is taken over: its request died);
* a request that fails is not stored (its transaction committed nothing), so it may be
  retried with the same key; only a success is stored and replayed.

The claim is its own short transaction, so two concurrent requests with one key race on the
unique ``(scope, key)`` constraint and exactly one wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.models import IdempotencyKey
from paydesk.domain.errors import Conflict, InvalidInput
from paydesk.domain.ids import IdSource

MAX_KEY_LENGTH = 255
STALE_LOCK = timedelta(seconds=60)


@dataclass(frozen=True)
class Replay:
    """The stored response of the first request with this key."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """This request owns the key; finish or abandon it."""

    row_id: str


def request_hash(method: str, path: str, body: Any) -> str:
    """A digest of what the request asks for (JSON key order does not matter).

    >>> request_hash("POST", "/x", {"a": 1, "b": 2}) == request_hash("POST", "/x", {"b": 2, "a": 1})
    True
    """
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def begin(
    db: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str,
    method: str,
    path: str,
    digest: str,
    now: datetime,
    ids: IdSource,
) -> Replay | Claim:
    """Claim ``key`` for this request, or return the stored response of the first one."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput("invalid_idempotency_key", "Idempotency-Key must be 1…255 characters")
    row_id = ids.new("idk")
    try:
        async with db.begin() as session:
            session.add(
                IdempotencyKey(
                    id=row_id,
                    scope=scope,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=digest,
                    created_at=now,
                    locked_at=now,
                )
            )
        return Claim(row_id)
    except IntegrityError:
        pass
    async with db.begin() as session:
        existing = await session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if existing is None:  # the first request was abandoned in between: claim again
            return await begin(
                db, scope=scope, key=key, method=method, path=path, digest=digest, now=now, ids=ids
            )
        if existing.request_hash != digest:
            raise Conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request; use a new key",
            )
        if existing.response_status is not None:
            return Replay(existing.response_status, existing.response_body or {})
        locked_at = existing.locked_at or existing.created_at
        if now - locked_at < STALE_LOCK:
            raise Conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still in progress; retry shortly",
            )
        taken = await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == existing.id, IdempotencyKey.locked_at == locked_at)
            .values(locked_at=now)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("idempotency_key_in_use", "another retry took this key over")
        return Claim(existing.id)


async def finish(
    db: async_sessionmaker[AsyncSession], claim: Claim, status: int, body: dict[str, Any]
) -> None:
    """Store the response of the request that owned the key."""
    async with db.begin() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == claim.row_id)
            .values(response_status=status, response_body=body, locked_at=None)
        )


async def abandon(db: async_sessionmaker[AsyncSession], claim: Claim) -> None:
    """Release the key without storing anything (the request was refused before acting)."""
    async with db.begin() as session:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim.row_id))
