"""Ping a pooled PostgreSQL connection before use — but only one that has sat idle a while.

SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout; with asyncpg that ping is three
round trips (BEGIN, ``;``, ROLLBACK), a sixth of a notification's work under load. Yet a
connection handed back a few milliseconds ago is alive unless the server died in those
milliseconds, which a ping at checkout would not have caught either. So paydesk pings only
connections idle for more than :data:`IDLE_PING_AFTER_SECONDS`: after a database restart, the
first request of an idle server gets a fresh connection instead of an error, and a busy server
pays nothing. A connection that fails its ping is thrown away and the pool hands out another
(SQLAlchemy retries a checkout that raises :class:`~sqlalchemy.exc.DisconnectionError`).

    engine = create_engine("postgresql://paydesk@db/paydesk")   # installs ping_when_idle
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

__all__ = ["IDLE_PING_AFTER_SECONDS", "ping_when_idle"]

#: A connection idle for longer than this is pinged before it is handed out.
IDLE_PING_AFTER_SECONDS = 2.0
_IDLE_SINCE = "paydesk_idle_since"


def ping_when_idle(
    engine: AsyncEngine,
    *,
    after_seconds: float = IDLE_PING_AFTER_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Make ``engine``'s pool ping a connection idle for over ``after_seconds`` at checkout.

    >>> from paydesk.db.engine import create_engine
    >>> engine = create_engine("postgresql://paydesk@db/paydesk")  # calls ping_when_idle
    >>> engine.pool._pre_ping   # SQLAlchemy's ping-every-time is off
    False
    """
    dialect = engine.dialect

    def returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = clock()

    def handed_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or clock() - idle_since <= after_seconds:
            return  # brand new, or back in the pool only a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises for a dead socket
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc

    event.listen(engine.sync_engine.pool, "checkin", returned)
    event.listen(engine.sync_engine.pool, "checkout", handed_out)
