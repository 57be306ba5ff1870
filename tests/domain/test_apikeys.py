"""API keys: the per-request check only reads, and ``last_used_at`` is written once a minute."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.models import ApiKey
from paydesk.domain import apikeys
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Unauthenticated
from paydesk.domain.ids import IdSource
from tests.db import rows
from tests.db.rows import T0

pytestmark = pytest.mark.backends


async def new_key(db: async_sessionmaker[AsyncSession], *, revoked: bool = False) -> str:
    async with db.begin() as session:
        plain, row = await apikeys.create_api_key(
            session, name="shop", mchid="1900000001", ids=IdSource(FixedClock(T0)), now=T0
        )
        if revoked:
            await apikeys.revoke_api_key(session, row.id, now=T0)
    return plain


async def last_used(db: async_sessionmaker[AsyncSession]) -> object:
    async with db() as session:
        return await session.scalar(select(ApiKey.last_used_at))


async def test_a_live_key_is_its_row_and_its_first_use_is_recorded(
    db: async_sessionmaker[AsyncSession],
) -> None:
    plain = await new_key(db)

    key = await apikeys.authenticate_key(db, plain, now=T0)

    assert (key.name, key.mchid, key.prefix) == ("shop", "1900000001", plain[:12])
    assert await last_used(db) == T0


async def test_last_used_at_is_written_at_most_once_a_minute(
    db: async_sessionmaker[AsyncSession],
) -> None:
    plain = await new_key(db)
    await apikeys.authenticate_key(db, plain, now=T0)

    await apikeys.authenticate_key(db, plain, now=T0 + timedelta(seconds=59))
    within = await last_used(db)
    await apikeys.authenticate_key(db, plain, now=T0 + timedelta(seconds=61))

    assert within == T0
    assert await last_used(db) == T0 + timedelta(seconds=61)


async def test_a_recently_used_key_is_checked_while_another_transaction_writes(
    db: async_sessionmaker[AsyncSession],
) -> None:
    plain = await new_key(db)
    await apikeys.authenticate_key(db, plain, now=T0)

    async with db.begin() as writer:  # holds SQLite's write lock until the block ends
        writer.add(rows.api_key())
        await writer.flush()
        key = await asyncio.wait_for(
            apikeys.authenticate_key(db, plain, now=T0 + timedelta(seconds=30)), timeout=2
        )

    assert key.name == "shop"


@pytest.mark.parametrize(
    "presented",
    ["", "pdk_", "pdk_" + "A" * 52, "sk_live_123", "pdk_" + "A" * 200],
)
async def test_unknown_or_malformed_keys_are_refused(
    db: async_sessionmaker[AsyncSession], presented: str
) -> None:
    await new_key(db)

    with pytest.raises(Unauthenticated):
        await apikeys.authenticate_key(db, presented, now=T0)


async def test_a_revoked_key_is_refused_and_not_touched(
    db: async_sessionmaker[AsyncSession],
) -> None:
    plain = await new_key(db, revoked=True)

    with pytest.raises(Unauthenticated, match="unknown or revoked"):
        await apikeys.authenticate_key(db, plain, now=T0)
    assert await last_used(db) is None
