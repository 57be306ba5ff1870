"""paydesk sessions of mini program users: opened at login, checked on every user request.

Sessions live in the cache's :class:`~paydesk.cache.SessionStore` — Redis when configured,
else the ``sessions`` table — under the SHA-256 of their token. WeChat's ``session_key`` is
kept with the session, for decrypting what the mini program sends later (PROTOCOL.md §4.6),
and never leaves the server: :class:`~paydesk.cache.SessionRecord` even keeps it out of
``repr``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from paydesk.cache import DatabaseSessionStore, DuplicateSession, NewSession, SessionRecord
from paydesk.db.models import User
from paydesk.domain.errors import Conflict, Unauthenticated
from paydesk.domain.users.tokens import digest, looks_like_session_token

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["authenticate", "find_session", "open_session", "sessions_in_database"]


def sessions_in_database(services: Services) -> bool:
    """Whether sessions are rows of the ``sessions`` table (no Redis): ids may be referenced."""
    return isinstance(services.cache.sessions, DatabaseSessionStore)


async def open_session(
    services: Services, user: User, *, token: str, session_key: str
) -> SessionRecord:
    """Store a new session for ``user`` under ``token``, living ``session_ttl_seconds``.

    If a session with this token exists already (a login that died after storing it, taken
    over by a resubmission of the same code), that live session is the answer.
    """
    now = services.clock.now()
    new = NewSession(
        session_id=services.ids.new("ses"),
        user_id=user.id,
        appid=user.appid,
        openid=user.openid,
        token_hash=digest(token),
        session_key=session_key,
        created_at=now,
        expires_at=now + timedelta(seconds=services.settings.session_ttl_seconds),
    )
    try:
        return await services.cache.sessions.create(new)
    except DuplicateSession as exc:
        existing = await find_session(services, token)
        if existing is None:
            raise Conflict(
                "session_conflict", "this login code's session has ended: call wx.login again"
            ) from exc
        return existing


async def find_session(services: Services, token: str) -> SessionRecord | None:
    """The live session of ``token``, or None (unknown, expired or revoked)."""
    if not looks_like_session_token(token):
        return None
    return await services.cache.sessions.get(digest(token))


async def authenticate(services: Services, token: str) -> SessionRecord:
    """The live session of a presented ``pds_…`` token; Unauthenticated otherwise."""
    if not looks_like_session_token(token):
        raise Unauthenticated("invalid_session", "send Authorization: Bearer pds_…")
    record = await find_session(services, token)
    if record is None:
        raise Unauthenticated(
            "invalid_session", "this session is unknown or has expired: log in again"
        )
    return record
