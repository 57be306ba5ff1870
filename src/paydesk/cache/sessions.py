"""Where a user's paydesk session is looked up by its token hash: the database or Redis.

Without Redis the ``sessions`` table is the store (:class:`DatabaseSessionStore`); with Redis,
:class:`RedisSessionStore` keeps each session under ``<prefix>session:<token hash>`` with a
time to live up to its expiry, so a lookup costs no database round trip. Both answer the same:
:meth:`~SessionStore.get` returns a session only while it is unexpired (by the injected clock)
and not revoked.

On PostgreSQL the database store's lookup is one prebuilt statement straight on the driver
(:mod:`paydesk.db.direct`): it runs on every request of a mini program user.

Only the token's SHA-256 hash is ever stored or looked up; the token itself stays with the
user (``paydesk.db.models.identity``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.cache._redis import Keyspace, Redis, decode_object, milliseconds, redis_errors
from paydesk.cache.clock import Clock, utc_now
from paydesk.cache.errors import CorruptEntry, DuplicateSession
from paydesk.db.direct import Prebuilt
from paydesk.db.models import User, UserSession

__all__ = [
    "DatabaseSessionStore",
    "NewSession",
    "RedisSessionStore",
    "SessionRecord",
    "SessionStore",
    "decode_session",
]


@dataclass(frozen=True)
class SessionRecord:
    """A live session as the API needs it; WeChat's ``session_key`` stays out of ``repr``.

    >>> from datetime import UTC
    >>> SessionRecord("ses_1", "usr_1", "wx1", "o-1", "k==", datetime(2030, 1, 1, tzinfo=UTC))
    ... # doctest: +ELLIPSIS
    SessionRecord(session_id='ses_1', user_id='usr_1', appid='wx1', openid='o-1', expires_at=...)
    """

    session_id: str
    user_id: str
    appid: str
    openid: str
    session_key: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    """The fields of a session to create: the record, plus its token hash and creation time.

    ``appid`` and ``openid`` must be those of user ``user_id`` (the database store reads them
    from the ``users`` row, the Redis store keeps the ones given here). Times must be aware.
    """

    session_id: str
    user_id: str
    appid: str
    openid: str
    token_hash: str
    session_key: str = field(repr=False)
    created_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        for name in ("created_at", "expires_at"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")

    def record(self) -> SessionRecord:
        """The :class:`SessionRecord` that ``get`` will answer for this session."""
        return SessionRecord(
            self.session_id,
            self.user_id,
            self.appid,
            self.openid,
            self.session_key,
            self.expires_at,
        )


class SessionStore(Protocol):
    """Sessions by token hash."""

    async def create(self, new: NewSession) -> SessionRecord:
        """Store ``new``; :class:`~paydesk.cache.errors.DuplicateSession` if its hash is taken."""
        ...

    async def get(self, token_hash: str) -> SessionRecord | None:
        """The session with this token hash, unless it is unknown, expired or revoked."""
        ...

    async def revoke(self, token_hash: str) -> None:
        """End the session with this token hash now (nothing happens if there is none)."""
        ...


#: The :class:`SessionRecord` fields of the live session ``:token_hash`` at ``:now``.
_LIVE_SESSION = Prebuilt(
    select(
        UserSession.id,
        UserSession.user_id,
        User.appid,
        User.openid,
        UserSession.session_key,
        UserSession.expires_at,
    )
    .join(User, User.id == UserSession.user_id)
    .where(
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > bindparam("now", type_=UserSession.expires_at.type),
    )
)


class DatabaseSessionStore:
    """:class:`SessionStore` on the ``sessions`` table; the user must already exist.

    ``DatabaseSessionStore(session_factory(engine))``. A revoked session keeps its row, with
    ``revoked_at`` set, for the audit trail.
    """

    def __init__(self, database: async_sessionmaker[AsyncSession], *, clock: Clock = utc_now):
        self._database = database
        self._clock = clock

    async def create(self, new: NewSession) -> SessionRecord:
        """Insert the session row."""
        row = UserSession(
            id=new.session_id,
            user_id=new.user_id,
            token_hash=new.token_hash,
            session_key=new.session_key,
            created_at=new.created_at,
            expires_at=new.expires_at,
            revoked_at=None,
        )
        try:
            async with self._database.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            if await self._hash_taken(new.token_hash):
                raise DuplicateSession(new.token_hash) from exc
            raise  # a missing user or a reused session id: the caller's bug, not a duplicate
        return new.record()

    async def get(self, token_hash: str) -> SessionRecord | None:
        """The live session with this token hash."""
        values = {"token_hash": token_hash, "now": self._clock()}
        found = await _LIVE_SESSION.rows(self._database, values)
        return SessionRecord(*found[0]) if found else None

    async def revoke(self, token_hash: str) -> None:
        """Set ``revoked_at`` on the session, if it is not revoked already."""
        statement = (
            update(UserSession)
            .where(UserSession.token_hash == token_hash, UserSession.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )
        async with self._database.begin() as session:
            await session.execute(statement)

    async def _hash_taken(self, token_hash: str) -> bool:
        async with self._database() as session:
            query = select(exists().where(UserSession.token_hash == token_hash))
            return bool(await session.scalar(query))


class RedisSessionStore:
    """:class:`SessionStore` in Redis, one JSON value per session, dropped at its expiry."""

    def __init__(self, client: Redis, keyspace: Keyspace, *, clock: Clock = utc_now) -> None:
        self._client = client
        self._keys = keyspace
        self._clock = clock

    async def create(self, new: NewSession) -> SessionRecord:
        """Store the session (``SET NX``: an existing hash is never overwritten)."""
        record = new.record()
        value = json.dumps(
            {
                "session_id": record.session_id,
                "user_id": record.user_id,
                "appid": record.appid,
                "openid": record.openid,
                "session_key": record.session_key,
                "expires_at": record.expires_at.isoformat(),
            }
        )
        # Redis only collects the key; get() decides expiry by the clock, as the table does.
        seconds_left = (record.expires_at - self._clock()).total_seconds()
        with redis_errors("store a session"):
            stored = await self._client.set(
                self._key(new.token_hash), value, nx=True, px=milliseconds(seconds_left)
            )
        if not stored:
            raise DuplicateSession(new.token_hash)
        return record

    async def get(self, token_hash: str) -> SessionRecord | None:
        """The live session with this token hash."""
        key = self._key(token_hash)
        with redis_errors("read a session"):
            raw = await self._client.get(key)
        if raw is None:
            return None
        record = decode_session(raw, key)
        return record if record.expires_at > self._clock() else None

    async def revoke(self, token_hash: str) -> None:
        """Delete the session."""
        with redis_errors("revoke a session"):
            await self._client.delete(self._key(token_hash))

    def _key(self, token_hash: str) -> str:
        return self._keys.key("session", token_hash)


def decode_session(raw: str | bytes, key: str) -> SessionRecord:
    """The session stored as ``raw`` under ``key``; :class:`CorruptEntry` if it is not one."""
    stored = decode_object(raw, key)
    try:
        expires_at = datetime.fromisoformat(stored["expires_at"])
        texts = [stored[name] for name in ("session_id", "user_id", "appid", "openid")]
        session_key = stored["session_key"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptEntry(key) from exc
    if not all(isinstance(text, str) for text in [*texts, session_key]):
        raise CorruptEntry(key)
    if expires_at.utcoffset() is None:
        raise CorruptEntry(key)
    session_id, user_id, appid, openid = texts
    return SessionRecord(session_id, user_id, appid, openid, session_key, expires_at)
