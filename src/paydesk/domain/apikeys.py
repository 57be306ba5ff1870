"""API keys for merchant backends: shown once, stored as a SHA-256 digest.

A key looks like ``pdk_`` + 52 base32 characters (256 bits). Its first 12 characters are kept
in clear (``prefix``) so a person can tell keys apart in ``paydesk apikey list``.

Every merchant request checks its key, so :func:`authenticate_key` only reads (no write lock on
SQLite), and records ``last_used_at`` in a write of its own at most once a minute per key. On
PostgreSQL that read is one prebuilt statement straight on the driver (:mod:`paydesk.db.direct`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.detached import Detached
from paydesk.db.direct import Prebuilt
from paydesk.db.models import ApiKey
from paydesk.domain.errors import NotFound, Unauthenticated
from paydesk.domain.ids import IdSource

KEY_PREFIX = "pdk_"
_TOUCH_EVERY = timedelta(minutes=1)
_KEYS = Detached(ApiKey)
_BY_HASH = Prebuilt(select(*_KEYS.columns).where(ApiKey.key_hash == bindparam("key_hash")))


def digest(presented: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(presented.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession, *, name: str, mchid: str | None, ids: IdSource, now: datetime
) -> tuple[str, ApiKey]:
    """A new key: returns the plain key (show it once) and its row."""
    plain = KEY_PREFIX + ids.token(32)
    row = ApiKey(
        id=ids.new("key"),
        name=name,
        prefix=plain[:12],
        key_hash=digest(plain),
        mchid=mchid,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return plain, row


def _checked(row: ApiKey | None, wanted: str) -> ApiKey:
    if row is None or not hmac.compare_digest(row.key_hash, wanted) or row.revoked_at is not None:
        raise Unauthenticated("invalid_api_key", "this API key is unknown or revoked")
    return row


def _digest_of(presented: str) -> str:
    if not presented.startswith(KEY_PREFIX) or len(presented) > 128:
        raise Unauthenticated("invalid_api_key", "send Authorization: Bearer pdk_…")
    return digest(presented)


def _untouched_since(moment: datetime) -> ColumnElement[bool]:
    return or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < moment)


async def authenticate(session: AsyncSession, presented: str, *, now: datetime) -> ApiKey:
    """The active key matching ``presented``, in the caller's (write) transaction;
    Unauthenticated otherwise."""
    wanted = _digest_of(presented)
    row = _checked(await session.scalar(select(ApiKey).where(ApiKey.key_hash == wanted)), wanted)
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    return row


async def authenticate_key(
    db: async_sessionmaker[AsyncSession], presented: str, *, now: datetime
) -> ApiKey:
    """The active key matching ``presented``, read in a transaction of its own; Unauthenticated
    otherwise. ``last_used_at`` is written only when it is over a minute old.

    ``key = await authenticate_key(services.db, token, now=services.clock.now())``
    """
    wanted = _digest_of(presented)
    row = _checked(await _key_with_digest(db, wanted), wanted)
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        async with db.begin() as session:  # concurrent requests: one of them writes
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == row.id, _untouched_since(now - _TOUCH_EVERY))
                .values(last_used_at=now)
            )
    return row


async def _key_with_digest(db: async_sessionmaker[AsyncSession], wanted: str) -> ApiKey | None:
    found = await _BY_HASH.rows(db, {"key_hash": wanted})
    return _KEYS.load(found[0]) if found else None


async def revoke_api_key(session: AsyncSession, key_id: str, *, now: datetime) -> ApiKey:
    """Revoke a key by id (or by its prefix)."""
    row = await session.scalar(
        select(ApiKey).where((ApiKey.id == key_id) | (ApiKey.prefix == key_id))
    )
    if row is None:
        raise NotFound("api_key_not_found", f"no API key {key_id}")
    row.revoked_at = now
    return row


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, newest first."""
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc()))).all())
