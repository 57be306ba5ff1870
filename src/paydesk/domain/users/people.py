"""WeChat users as paydesk knows them: one row per (app, openid), created at first login.

``openid`` is per app; ``unionid`` (when the app is bound to an open-platform account) is the
same person across apps, and is refreshed whenever WeChat reports it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.models import User
from paydesk.domain.errors import Conflict, NotFound
from paydesk.domain.ids import IdSource

__all__ = ["get_user", "remember_user", "user_view"]


async def remember_user(
    db: async_sessionmaker[AsyncSession],
    *,
    appid: str,
    openid: str,
    unionid: str | None,
    ids: IdSource,
    now: datetime,
) -> User:
    """The user ``(appid, openid)``, created if new; a changed ``unionid`` is recorded.

    Two first logins of one person at once both try to insert; the loser's unique violation
    means the row exists now, so it simply reads it in a second round.
    """
    try:
        return await _upsert(db, appid, openid, unionid, ids, now)
    except IntegrityError:
        pass
    try:
        return await _upsert(db, appid, openid, unionid, ids, now)
    except IntegrityError as exc:
        raise Conflict(
            "user_conflict", f"user {openid} of {appid} changed meanwhile; retry"
        ) from exc


async def _upsert(
    db: async_sessionmaker[AsyncSession],
    appid: str,
    openid: str,
    unionid: str | None,
    ids: IdSource,
    now: datetime,
) -> User:
    async with db.begin() as session:
        user = await session.scalar(select(User).where(User.appid == appid, User.openid == openid))
        if user is None:
            user = User(
                id=ids.new("usr"),
                appid=appid,
                openid=openid,
                unionid=unionid,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
        elif unionid is not None and user.unionid != unionid:
            user.unionid = unionid
            user.updated_at = now
        await session.flush()
        return user


async def get_user(db: async_sessionmaker[AsyncSession], user_id: str) -> User:
    """The user ``user_id``; NotFound if there is none."""
    async with db() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", f"no user {user_id}")
    return user


def user_view(user: User) -> dict[str, Any]:
    """The public JSON of a user: ids only, nothing WeChat told us in confidence.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> user_view(User(id="usr_1", appid="wx1", openid="o1", unionid=None,
    ...                created_at=t, updated_at=t))
    {'id': 'usr_1', 'appid': 'wx1', 'openid': 'o1', 'unionid': None}
    """
    return {"id": user.id, "appid": user.appid, "openid": user.openid, "unionid": user.unionid}
