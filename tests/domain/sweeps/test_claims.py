"""Claiming orders for the sweeps: which are due, how the claim moves them on, and that two
workers claiming at once never get the same order."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import OrderState
from paydesk.db.models import Order
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.sweeps.claims import Claimed, claim_expired, claim_paying
from paydesk.domain.sweeps.schedule import CLOSE_RETRY

pytestmark = pytest.mark.backends

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def ids() -> IdSource:
    return IdSource(FixedClock(T0), random.Random(3).randbytes)


async def insert(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    *,
    state: OrderState = OrderState.PAYING,
    since: timedelta = timedelta(0),
    expires_in: timedelta = HOUR,
    next_check_in: timedelta | None = None,
    checks: int = 0,
) -> str:
    """One order in ``state`` since ``T0 - since``, expiring at ``T0 + expires_in``."""
    order_id = ids.new("ord")
    async with db.begin() as session:
        session.add(
            Order(
                id=order_id,
                out_trade_no=ids.out_trade_no(),
                mchid="1900000001",
                appid="wx5a0d5a0d00000001",
                merchant_order_id=order_id,
                amount=100,
                description="test",
                state=state,
                expires_at=T0 + expires_in,
                created_at=T0 - since,
                updated_at=T0 - since,
                next_check_at=None if next_check_in is None else T0 + next_check_in,
                check_attempts=checks,
            )
        )
    return order_id


async def claim(
    db: async_sessionmaker[AsyncSession], kind: str, now: datetime = T0, limit: int = 100
) -> list[Claimed]:
    async with db.begin() as session:
        if kind == "paying":
            return await claim_paying(session, now=now, limit=limit)
        return await claim_expired(session, now=now, limit=limit)


async def stored(db: async_sessionmaker[AsyncSession], order_id: str) -> Order:
    async with db() as session:
        order = await session.scalar(select(Order).where(Order.id == order_id))
        assert order is not None
        return order


async def test_a_paying_order_is_first_due_ten_seconds_after_it_started_paying(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    fresh = await insert(db, ids, since=timedelta(seconds=9))
    due = await insert(db, ids, since=timedelta(seconds=10))

    (claimed,) = await claim(db, "paying")

    assert claimed == Claimed(due, 1, T0 + timedelta(seconds=20))
    order = await stored(db, due)
    assert (order.check_attempts, order.next_check_at) == (1, T0 + timedelta(seconds=20))
    assert (await stored(db, fresh)).check_attempts == 0
    assert await claim(db, "paying") == []  # claimed: not due again until its next check


async def test_the_backoff_comes_from_the_checks_already_made(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    third = await insert(db, ids, since=HOUR, next_check_in=timedelta(0), checks=2)
    capped = await insert(db, ids, since=HOUR, next_check_in=-timedelta(seconds=1), checks=9)
    near_expiry = await insert(
        db, ids, since=HOUR, next_check_in=timedelta(0), checks=2, expires_in=timedelta(seconds=7)
    )
    later = await insert(db, ids, since=HOUR, next_check_in=timedelta(seconds=1), checks=2)

    claimed = {c.order_id: c for c in await claim(db, "paying")}

    assert set(claimed) == {third, capped, near_expiry}
    assert claimed[third].next_check_at == T0 + timedelta(seconds=80)  # 10 × 2³
    assert claimed[capped].next_check_at == T0 + timedelta(minutes=10)
    assert claimed[near_expiry].next_check_at == T0 + timedelta(seconds=7)
    assert (await stored(db, later)).check_attempts == 2


@pytest.mark.parametrize(
    "state", [OrderState.CREATED, OrderState.PAID, OrderState.CLOSED, OrderState.REFUNDED]
)
async def test_only_paying_orders_are_queried(
    db: async_sessionmaker[AsyncSession], ids: IdSource, state: OrderState
) -> None:
    await insert(db, ids, state=state, since=HOUR)
    assert await claim(db, "paying") == []


async def test_an_expired_paying_order_is_for_the_expiry_sweep_not_the_query(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    expired = await insert(db, ids, since=HOUR, expires_in=timedelta(0))
    assert await claim(db, "paying") == []
    (claimed,) = await claim(db, "expired")
    assert (claimed.order_id, claimed.next_check_at) == (expired, T0 + CLOSE_RETRY)


async def test_expired_created_and_paying_orders_are_claimed_for_closing_once_a_minute(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    created = await insert(db, ids, state=OrderState.CREATED, expires_in=-timedelta(seconds=1))
    paying = await insert(db, ids, expires_in=-HOUR, next_check_in=-HOUR, checks=7)
    await insert(db, ids, state=OrderState.CLOSED, expires_in=-HOUR)
    await insert(db, ids, state=OrderState.PAID, expires_in=-HOUR)
    await insert(db, ids, expires_in=HOUR)

    first = await claim(db, "expired")

    assert [c.order_id for c in first] == [paying, created]  # longest expired first
    assert [c.checks for c in first] == [8, 1]
    assert await claim(db, "expired", T0 + CLOSE_RETRY - timedelta(seconds=1)) == []
    again = await claim(db, "expired", T0 + CLOSE_RETRY)  # the close failed: try again
    assert {c.order_id for c in again} == {created, paying}


async def test_the_limit_takes_the_most_overdue_first(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    oldest = await insert(db, ids, since=3 * HOUR)
    older = await insert(db, ids, since=2 * HOUR)
    await insert(db, ids, since=HOUR)
    assert [c.order_id for c in await claim(db, "paying", limit=2)] == [oldest, older]


async def test_two_workers_claiming_at_once_share_the_orders_without_overlap(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    orders = {await insert(db, ids, since=HOUR) for _ in range(30)}

    async def worker() -> list[str]:
        taken: list[str] = []
        while batch := await claim(db, "paying", limit=4):
            taken += [c.order_id for c in batch]
            await asyncio.sleep(0)
        return taken

    first, second = await asyncio.gather(worker(), worker())

    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(orders)


async def test_orders_claimed_by_an_open_transaction_are_not_claimed_again(
    db: async_sessionmaker[AsyncSession], ids: IdSource
) -> None:
    # PostgreSQL: the second claim skips the rows the first one holds (SKIP LOCKED) at once;
    # SQLite: the second transaction waits for the first (BEGIN IMMEDIATE) and then finds
    # those orders no longer due. Either way, disjoint claims.
    orders = {await insert(db, ids, since=HOUR) for _ in range(6)}
    held = asyncio.Event()

    async def slow_first() -> list[str]:
        async with db.begin() as session:
            claimed = await claim_paying(session, now=T0, limit=2)
            held.set()
            await asyncio.sleep(0.3)
        return [c.order_id for c in claimed]

    async def second() -> list[str]:
        await held.wait()
        return [c.order_id for c in await claim(db, "paying")]

    first, rest = await asyncio.gather(slow_first(), second())

    assert len(first) == 2
    assert sorted(first + rest) == sorted(orders)
