"""Who is calling: merchant API keys, WeChat users, their sessions and ``wx.login`` codes.

Secrets are stored only as SHA-256 hex digests (``key_hash``, ``token_hash``, ``code_hash``);
WeChat's ``session_key`` is the one exception, because paydesk needs it to decrypt what the mini
program sends, and it never leaves the server::

    >>> sorted(c.name for c in LoginCode.__table__.primary_key)
    ['appid', 'code_hash']
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from paydesk.db.base import Base
from paydesk.db.enums import LoginCodeState
from paydesk.db.models._columns import AppId, IdRef, MchId, OpenId, PrefixedId, Sha256Hex

__all__ = ["ApiKey", "LoginCode", "User", "UserSession"]


class ApiKey(Base):
    """A merchant backend's API key, stored as its SHA-256 digest.

    ``prefix`` (the key's first 12 characters) is shown in listings and narrows the lookup;
    the digest is then compared in constant time. ``mchid`` limits the key to one merchant
    (``None``: every merchant).
    """

    __tablename__ = "api_keys"

    id: Mapped[PrefixedId]
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[Sha256Hex] = mapped_column(unique=True)
    mchid: Mapped[MchId | None]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class User(Base):
    """A WeChat user as one app sees them (``openid`` is per app; ``unionid`` spans apps)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("appid", "openid"),)

    id: Mapped[PrefixedId]
    appid: Mapped[AppId]
    openid: Mapped[OpenId]
    unionid: Mapped[OpenId | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserSession(Base):
    """A paydesk session token (stored hashed) and the WeChat ``session_key`` behind it."""

    __tablename__ = "sessions"

    id: Mapped[PrefixedId]
    user_id: Mapped[IdRef] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[Sha256Hex] = mapped_column(unique=True)
    session_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class LoginCode(Base):
    """One ``wx.login`` code, claimed before it is exchanged.

    WeChat accepts a code once and answers 40163 to the second ``jscode2session``. Claiming
    the code here first (the primary key makes the claim atomic) lets a retried or concurrent
    submission wait for and return the same session instead.
    """

    __tablename__ = "login_codes"

    appid: Mapped[AppId] = mapped_column(primary_key=True)
    code_hash: Mapped[Sha256Hex] = mapped_column(primary_key=True)
    state: Mapped[LoginCodeState]
    session_id: Mapped[IdRef | None] = mapped_column(ForeignKey("sessions.id"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    session: Mapped[UserSession | None] = relationship(lazy="raise_on_sql")
