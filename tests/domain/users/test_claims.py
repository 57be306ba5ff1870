"""Claims on login codes: one exchange per code, outcomes shared, stale claims taken over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import LoginCodeState
from paydesk.db.models import LoginCode
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Conflict
from paydesk.domain.users import claims

pytestmark = pytest.mark.backends

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
APPID = "wx5a0d5a0d00000001"
CODE = "a" * 64


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


async def row(db: async_sessionmaker[AsyncSession]) -> LoginCode | None:
    async with db() as session:
        return await session.scalar(select(LoginCode))


async def test_one_claim_wins_among_many(db: async_sessionmaker[AsyncSession]) -> None:
    won = await asyncio.gather(*(claims.try_claim(db, APPID, CODE, now=T0) for _ in range(20)))
    assert won.count(True) == 1
    claimed = await row(db)
    assert claimed is not None
    assert claimed.state == LoginCodeState.CLAIMED
    assert (claimed.appid, claimed.code_hash) == (APPID, CODE)


async def test_the_same_code_of_another_app_is_another_claim(
    db: async_sessionmaker[AsyncSession],
) -> None:
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    assert await claims.try_claim(db, "wx5a0d5a0d00000002", CODE, now=T0)


async def test_finished_and_failed_codes_are_never_claimed_again(
    db: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    await claims.finish(db, APPID, CODE, session_id=None, now=T0)
    later = clock.advance(3600).now()
    assert not await claims.try_claim(db, APPID, CODE, now=later)
    done = await claims.wait(db, APPID, CODE, clock=clock)
    assert done is not None
    assert done.state == LoginCodeState.DONE
    other = "b" * 64
    assert await claims.try_claim(db, APPID, other, now=T0)
    await claims.fail(db, APPID, other, error="40029", now=T0)
    assert not await claims.try_claim(db, APPID, other, now=later)
    failed = await claims.wait(db, APPID, other, clock=clock)
    assert failed is not None
    assert (failed.state, failed.error) == (LoginCodeState.FAILED, "40029")


async def test_a_released_claim_can_be_claimed_again(
    db: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    await claims.release(db, APPID, CODE)
    assert await claims.wait(db, APPID, CODE, clock=clock) is None
    assert await claims.try_claim(db, APPID, CODE, now=T0)


async def test_release_never_removes_an_outcome(db: async_sessionmaker[AsyncSession]) -> None:
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    await claims.fail(db, APPID, CODE, error="40163", now=T0)
    await claims.release(db, APPID, CODE)
    kept = await row(db)
    assert kept is not None
    assert kept.state == LoginCodeState.FAILED


async def test_a_waiter_gets_the_outcome_as_soon_as_it_is_written(
    db: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    waiting = asyncio.create_task(claims.wait(db, APPID, CODE, clock=clock))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await claims.finish(db, APPID, CODE, session_id=None, now=T0)
    outcome = await asyncio.wait_for(waiting, timeout=5)
    assert outcome is not None
    assert outcome.state == LoginCodeState.DONE


async def test_a_stale_claim_is_taken_over_once(
    db: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    clock.advance(claims.STALE_AFTER.total_seconds() - 1)
    assert not await claims.try_claim(db, APPID, CODE, now=clock.now())
    clock.advance(2)
    assert await claims.wait(db, APPID, CODE, clock=clock) is None  # stale: claim it again
    takers = await asyncio.gather(
        *(claims.try_claim(db, APPID, CODE, now=clock.now()) for _ in range(5))
    )
    assert takers.count(True) == 1
    taken = await row(db)
    assert taken is not None
    assert taken.updated_at == clock.now()


async def test_waiting_gives_up_after_a_bound(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "WAIT_SECONDS", 0.1)
    assert await claims.try_claim(db, APPID, CODE, now=T0)
    with pytest.raises(Conflict) as raised:
        await claims.wait(db, APPID, CODE, clock=clock)
    assert raised.value.code == "login_in_progress"
