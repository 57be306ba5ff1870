"""Claims on ``wx.login`` codes: the ``login_codes`` row that makes "exchange it once" atomic.

WeChat exchanges a code once and answers 40163 after that. Whoever inserts the row
``(appid, code_hash)`` — the primary key lets only one insert win — exchanges the code; anyone
else waits for the row to leave ``claimed`` and reuses its outcome::

    claimed ──► done     the exchange worked; the session can be recomputed from the code
            ──► failed   WeChat refused the code; ``error`` holds its errcode
            ──► (gone)   WeChat could not be asked: the claim is released, the code may be retried

A claim left ``claimed`` for :data:`STALE_AFTER` belongs to a request that died; the next
submission takes it over with a compare-and-set on ``updated_at``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import LoginCodeState
from paydesk.db.models import LoginCode
from paydesk.domain.clock import Clock
from paydesk.domain.errors import Conflict

__all__ = ["STALE_AFTER", "WAIT_SECONDS", "fail", "finish", "release", "try_claim", "wait"]

#: Longer than any exchange can take (the client's 10 s timeout, plus connect retries).
STALE_AFTER = timedelta(seconds=60)
#: How long a second submission waits for the first one's outcome before giving up.
WAIT_SECONDS = 15.0
_FIRST_POLL, _MAX_POLL = 0.01, 0.25

Db = async_sessionmaker[AsyncSession]


def _key(appid: str, code_hash: str) -> ColumnElement[bool]:
    return and_(LoginCode.appid == appid, LoginCode.code_hash == code_hash)


async def try_claim(db: Db, appid: str, code_hash: str, *, now: datetime) -> bool:
    """Claim the code for this request: True if it is now ours to exchange.

    False when another request holds a live claim or the code already has an outcome.
    """
    row = LoginCode(
        appid=appid,
        code_hash=code_hash,
        state=LoginCodeState.CLAIMED,
        session_id=None,
        error=None,
        created_at=now,
        updated_at=now,
    )
    try:
        async with db.begin() as session:
            session.add(row)
        return True
    except IntegrityError:
        pass
    async with db.begin() as session:
        taken = await session.execute(
            update(LoginCode)
            .where(
                _key(appid, code_hash),
                LoginCode.state == LoginCodeState.CLAIMED,
                LoginCode.updated_at < now - STALE_AFTER,
            )
            .values(updated_at=now)
        )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


async def wait(db: Db, appid: str, code_hash: str, *, clock: Clock) -> LoginCode | None:
    """The code's row once it has an outcome; None if the claim was released or went stale
    (claim it again). Conflict after :data:`WAIT_SECONDS` of someone else's exchange."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    pause = _FIRST_POLL
    while True:
        async with db() as session:
            row = await session.scalar(select(LoginCode).where(_key(appid, code_hash)))
        if row is None or row.state != LoginCodeState.CLAIMED:
            return row
        if row.updated_at < clock.now() - STALE_AFTER:
            return None
        if loop.time() >= deadline:
            raise Conflict(
                "login_in_progress",
                "this login code is still being exchanged by another request; retry shortly",
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, _MAX_POLL)


async def finish(
    db: Db, appid: str, code_hash: str, *, session_id: str | None, now: datetime
) -> None:
    """Record a successful exchange (``session_id`` only when sessions live in the database)."""
    async with db.begin() as session:
        await session.execute(
            update(LoginCode)
            .where(_key(appid, code_hash))
            .values(state=LoginCodeState.DONE, session_id=session_id, updated_at=now)
        )


async def fail(db: Db, appid: str, code_hash: str, *, error: str, now: datetime) -> None:
    """Record that WeChat refused the code; ``error`` is what a resubmission is told."""
    async with db.begin() as session:
        await session.execute(
            update(LoginCode)
            .where(_key(appid, code_hash))
            .values(state=LoginCodeState.FAILED, error=error, updated_at=now)
        )


async def release(db: Db, appid: str, code_hash: str) -> None:
    """Give up a claim without an outcome, so the code may be submitted again."""
    async with db.begin() as session:
        await session.execute(
            delete(LoginCode).where(
                _key(appid, code_hash), LoginCode.state == LoginCodeState.CLAIMED
            )
        )
