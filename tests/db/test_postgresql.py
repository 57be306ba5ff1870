"""PostgreSQL sessions: a session that begins on its own reads in autocommit (no BEGIN, no
ROLLBACK), refuses to write, and leaves no trace on its pooled connection; an explicit begin()
is an atomic READ COMMITTED transaction.

Runs against the real PostgreSQL server (a database of its own), whatever backend the run
selected: the read mode exists for PostgreSQL only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from paydesk.db.engine import create_engine, session_factory
from paydesk.db.postgresql import ReadSessionWrite


class Base(DeclarativeBase):
    """This test's own tables."""


class Counter(Base):
    __tablename__ = "counter"
    value: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class Broke(Exception):
    """A write transaction broke halfway."""


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """paydesk's engine with ONE pooled connection (reads and writes share it), and a table."""
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


async def in_transaction(session: AsyncSession) -> bool:
    """Whether the server sees an open transaction on the session's connection."""
    raw = await (await session.connection()).get_raw_connection()
    in_one: bool = raw.driver_connection.is_in_transaction()
    return in_one


async def values(db: async_sessionmaker[AsyncSession]) -> list[int]:
    async with db() as session:
        return list(await session.scalars(text("SELECT value FROM counter ORDER BY value")))


async def test_a_read_runs_without_a_transaction_and_a_write_in_one(engine: AsyncEngine) -> None:
    db = session_factory(engine)
    async with db() as session:
        assert await session.scalar(text("SELECT 1")) == 1
        assert not await in_transaction(session)
    async with db.begin() as session:
        await session.execute(text("INSERT INTO counter VALUES (1)"))
        assert await in_transaction(session)
        level = await session.scalar(text("SELECT current_setting('transaction_isolation')"))
        assert level == "read committed"
    async with db() as session:  # the same pooled connection: back in autocommit
        assert not await in_transaction(session)
    assert await values(db) == [1]


async def test_a_write_transaction_is_all_or_nothing(engine: AsyncEngine) -> None:
    db = session_factory(engine)

    async def insert_then_break() -> None:
        async with db.begin() as session:
            await session.execute(text("INSERT INTO counter VALUES (1)"))
            raise Broke

    with pytest.raises(Broke):
        await insert_then_break()
    async with db() as session, session.begin():  # begin() on a fresh session writes too
        await session.execute(text("INSERT INTO counter VALUES (2)"))
    assert await values(db) == [2]


async def test_a_read_session_refuses_to_write_and_writes_nothing(engine: AsyncEngine) -> None:
    db = session_factory(engine)
    async with db() as session:
        session.add(Counter(value=7))
        with pytest.raises(ReadSessionWrite, match=r"write in db\.begin"):
            await session.flush()
    async with db.begin() as session:  # the ORM writes in a write transaction
        session.add(Counter(value=8))
    assert await values(db) == [8]
