"""Statements run straight on asyncpg: the values a session would see, SQLAlchemy's errors, and
a pool that never gets a broken connection back.

Runs against the real PostgreSQL server (a database of its own), whatever backend the run
selected: the direct way exists for PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.db.direct import DirectStatement, Prebuilt, driver_connection, postgresql_engine
from paydesk.db.engine import create_engine, default_sqlite_url, session_factory
from paydesk.db.types import JSONType, UTCDateTime
from tests.db.postgres import backend_pid, kill

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("data", JSONType, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
BEIJING = timezone(timedelta(hours=8))

ADD = insert(things).values(
    id=bindparam("p_id"), state="NEW", data=bindparam("p_data"), at=bindparam("p_at")
)
READ = select(things).where(things.c.id == bindparam("p_id"))
MOVE = (
    update(things)
    .where(things.c.id == bindparam("p_id"), things.c.state == "NEW")
    .values(state="DONE")
    .returning(things.c.id, things.c.at)
)


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """paydesk's engine (its pool, its liveness ping) on a database holding ``things``."""
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


def direct(statement: object, engine: AsyncEngine) -> DirectStatement:
    return DirectStatement(statement, engine.dialect)  # type: ignore[arg-type]


async def first_row(
    statement: DirectStatement, connection: object, values: dict[str, object]
) -> object:
    """The statement's first row, or ``None``."""
    rows = await statement.fetch(connection, values)
    return rows[0] if rows else None


async def run(engine: AsyncEngine, statement: object, **values: object) -> object:
    async with driver_connection(engine) as connection:
        return await first_row(direct(statement, engine), connection, values)


async def test_values_go_in_and_come_out_as_a_session_sees_them(engine: AsyncEngine) -> None:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=BEIJING)
    assert await run(engine, ADD, p_id="t1", p_data={"fen": 1999, "名": "咖啡"}, p_at=at) is None
    row = await run(engine, READ, p_id="t1")
    assert row == ("t1", "NEW", {"fen": 1999, "名": "咖啡"}, at)
    assert row[3].tzinfo is UTC  # UTCDateTime's result processor ran, not only asyncpg's
    async with engine.connect() as connection:  # what the direct way wrote, read the usual way
        assert (await connection.execute(READ, {"p_id": "t1"})).one() == row
    assert await run(engine, MOVE, p_id="t1") == ("t1", at)
    assert await run(engine, MOVE, p_id="t1") is None  # the condition matched nothing
    assert await run(engine, READ, p_id="missing") is None


async def test_the_statements_constants_and_processors_apply(engine: AsyncEngine) -> None:
    statement = direct(ADD, engine)
    at = datetime(2026, 1, 1, tzinfo=BEIJING)
    arguments = statement.arguments({"p_id": "t", "p_data": {"a": 1}, "p_at": at})
    assert "NEW" in arguments  # fixed by the statement itself
    assert '{"a": 1}' in arguments  # JSONB: serialised by SQLAlchemy's processor
    (when,) = [value for value in arguments if isinstance(value, datetime)]
    assert (when, when.tzinfo) == (datetime(2025, 12, 31, 16, tzinfo=UTC), UTC)  # UTCDateTime
    with pytest.raises(TypeError, match="naive"):
        statement.arguments({"p_id": "t", "p_data": {}, "p_at": datetime(2026, 1, 1)})


async def test_a_server_error_is_sqlalchemys_and_the_connection_stays(
    engine: AsyncEngine,
) -> None:
    at = datetime.now(UTC)
    await run(engine, ADD, p_id="t1", p_data={}, p_at=at)
    before = await backend_pid(engine)
    with pytest.raises(IntegrityError):
        await run(engine, ADD, p_id="t1", p_data={}, p_at=at)
    with pytest.raises(DBAPIError, match="0x00"):
        await run(engine, READ, p_id="nul\x00byte")
    assert await backend_pid(engine) == before  # still the same, healthy, connection
    assert (await run(engine, READ, p_id="t1")) is not None


@pytest.mark.parametrize("caught_inside", [True, False])
async def test_a_connection_the_server_ended_is_not_returned_to_the_pool(
    engine: AsyncEngine, postgres_url: str, caught_inside: bool
) -> None:
    with pytest.raises(OperationalError) if not caught_inside else contextlib.nullcontext():
        async with driver_connection(engine) as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            await kill(postgres_url, pid)
            with pytest.raises(OperationalError) if caught_inside else contextlib.nullcontext():
                await first_row(direct(READ, engine), connection, {"p_id": "t1"})
    assert await backend_pid(engine) != pid
    assert await run(engine, READ, p_id="t1") is None


async def test_a_statement_cancelled_halfway_costs_its_connection_only(
    engine: AsyncEngine,
) -> None:
    sleep = text("SELECT pg_sleep(:p_seconds)").bindparams(bindparam("p_seconds"))
    started = asyncio.Event()

    async def slow() -> None:
        async with driver_connection(engine) as connection:
            started.set()
            await first_row(direct(sleep, engine), connection, {"p_seconds": 30})

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The one pooled connection was dropped, not handed back mid-statement: the next statement
    # gets a fresh one and answers at once.
    assert await asyncio.wait_for(run(engine, READ, p_id="t1"), 5) is None


async def test_fetch_returns_every_row_processed_in_the_servers_order(engine: AsyncEngine) -> None:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=BEIJING)
    for name in ("b", "a", "c"):
        await run(engine, ADD, p_id=name, p_data={"n": name}, p_at=at)
    newest_first = (
        select(things).where(things.c.id != bindparam("p_id")).order_by(things.c.id.desc())
    )
    async with driver_connection(engine) as connection:
        rows = await direct(newest_first, engine).fetch(connection, {"p_id": "a"})
    assert rows == [("c", "NEW", {"n": "c"}, at), ("b", "NEW", {"n": "b"}, at)]
    assert all(row[3].tzinfo is UTC for row in rows)
    async with driver_connection(engine) as connection:
        assert await direct(newest_first, engine).fetch(connection, {"p_id": "%"}) != []
        with pytest.raises(DBAPIError, match="0x00"):
            await direct(newest_first, engine).fetch(connection, {"p_id": "nul\x00"})


async def test_a_prebuilt_statement_is_compiled_once_and_runs_on_a_pooled_connection(
    engine: AsyncEngine,
) -> None:
    read = Prebuilt(READ)
    assert read.on(engine.dialect) is read.on(engine.dialect)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert await Prebuilt(ADD).fetch(engine, {"p_id": "t1", "p_data": {}, "p_at": at}) == []
    assert await read.fetch(engine, {"p_id": "t1"}) == [("t1", "NEW", {}, at)]
    assert await read.fetch(engine, {"p_id": "t1"}) == [("t1", "NEW", {}, at)]
    assert await read.fetch(engine, {"p_id": "none"}) == []
    assert engine.pool.checkedout() == 0  # each call gave its connection back


async def test_postgresql_engine_names_the_engine_only_on_postgresql(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    found = postgresql_engine(session_factory(engine))
    assert found is not None  # the sessions' own engine (autocommit options), on the same pool
    assert found.sync_engine.pool is engine.sync_engine.pool
    sqlite = create_engine(default_sqlite_url(tmp_path))
    try:
        assert postgresql_engine(session_factory(sqlite)) is None
    finally:
        await sqlite.dispose()
