"""Engines: URLs, per-backend connection settings, and SQLite's write locking."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, IntegrityError, InvalidRequestError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from paydesk.db import sqlite as sqlite_module
from paydesk.db.engine import (
    UnsupportedDatabaseURL,
    create_engine,
    default_sqlite_url,
    is_postgresql,
    normalize_url,
    session_factory,
)
from paydesk.db.models import Order
from paydesk.db.postgresql import PostgreSQLSession
from paydesk.db.sqlite import SQLITE_BUSY_TIMEOUT_MS, SQLiteSession
from tests.backends import Backend
from tests.db import rows

pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("sqlite:///data/paydesk.sqlite3", "sqlite+aiosqlite:///data/paydesk.sqlite3"),
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("postgresql://u:p%40ss@db:5432/pd", "postgresql+asyncpg://u:p%40ss@db:5432/pd"),
        ("postgresql+asyncpg://db/pd", "postgresql+asyncpg://db/pd"),
        ("postgres://db/pd", "postgresql+asyncpg://db/pd"),
    ],
)
def test_urls_get_the_async_driver(given: str, normalized: str) -> None:
    assert normalize_url(given) == normalized


@pytest.mark.parametrize(
    "url",
    ["mysql://db/pd", "postgresql+psycopg2://db/pd", "sqlite+pysqlite:///x.db", "not a url"],
)
def test_other_backends_and_sync_drivers_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL, match="unsupported database URL"):
        create_engine(url)


def test_the_default_sqlite_file_is_an_absolute_path_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    url = default_sqlite_url(Path("data"))

    assert url == f"sqlite+aiosqlite:///{tmp_path}/data/paydesk.sqlite3"


async def test_sqlite_connections_use_wal_normal_sync_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine(default_sqlite_url(tmp_path / "new" / "data"))
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()

    assert pragmas == ["wal", 1, 1, SQLITE_BUSY_TIMEOUT_MS]  # synchronous 1 is NORMAL
    assert (tmp_path / "new" / "data" / "paydesk.sqlite3").is_file()


def test_postgresql_engines_get_a_pool_and_utc_sessions() -> None:
    engine = create_engine("postgresql://paydesk@db/paydesk")

    assert is_postgresql(engine)
    assert engine.dialect.driver == "asyncpg"
    assert engine.pool.size() == 20  # type: ignore[attr-defined]
    assert engine.pool._pool.maxsize == 20  # type: ignore[attr-defined]


def test_caller_options_win_over_the_defaults() -> None:
    engine = create_engine("postgresql://paydesk@db/paydesk", pool_size=3)

    assert engine.pool.size() == 3  # type: ignore[attr-defined]


def test_a_caller_chosen_pool_gets_no_sizing_defaults() -> None:
    # One-shot tools (migrations) pass NullPool, which takes no pool_size / max_overflow.
    engine = create_engine("postgresql://paydesk@db/paydesk", poolclass=NullPool)

    assert isinstance(engine.pool, NullPool)


async def test_an_in_memory_sqlite_database_needs_no_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.connect() as connection:
            enforced = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    finally:
        await engine.dispose()

    assert enforced == 1
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


async def test_the_engine_reports_its_backend(db_engine: AsyncEngine, backend: Backend) -> None:
    assert is_postgresql(db_engine) is (backend == "postgresql")


async def test_postgresql_sessions_run_in_utc(db_engine: AsyncEngine, backend: Backend) -> None:
    async with db_engine.connect() as connection:
        if backend == "postgresql":
            settings = (
                await connection.execute(
                    text("SELECT current_setting('TimeZone'), current_setting('application_name')")
                )
            ).one()
            assert tuple(settings) == ("UTC", "paydesk")
        else:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            assert mode == "wal"


async def test_sessions_keep_loaded_values_after_commit(db_engine: AsyncEngine) -> None:
    async with session_factory(db_engine)() as session, session.begin():
        session.add(rows.order())
    async with session_factory(db_engine)() as session:
        async with session.begin():
            order = await session.scalar(select(Order))
        assert order is not None
        assert order.state == "CREATED"  # no reload after commit: would fail in async


async def test_a_read_then_write_transaction_survives_a_concurrent_writer(
    db_engine: AsyncEngine,
) -> None:
    # The portable read-modify-write: SELECT … FOR UPDATE locks the row on PostgreSQL; SQLite
    # drops the clause, and there BEGIN IMMEDIATE does the job. Without it, the DEFERRED
    # reader could not write once the other connection had committed ("database is locked"
    # at once, whatever the busy timeout). Either way the second writer waits, nothing is lost.
    await rows.insert(db_engine, rows.order())
    factory = session_factory(db_engine)
    first_has_read = asyncio.Event()

    async def read_then_write() -> None:
        async with factory() as session, session.begin():
            version = await session.scalar(select(Order.version).with_for_update())
            first_has_read.set()
            await asyncio.sleep(0.05)
            await session.execute(update(Order).values(version=(version or 0) + 10))

    async def write() -> None:
        await first_has_read.wait()
        async with factory() as session, session.begin():
            await session.execute(update(Order).values(version=Order.version + 1))

    await asyncio.wait_for(asyncio.gather(read_then_write(), write()), timeout=10)

    async with factory() as session:
        assert await session.scalar(select(Order.version)) == 11


# --- SQLite: reads take no lock; writers queue in this process, first come first served --------


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite engine (whatever the run's backend) on a fresh file with ``counter(id, value)``."""
    engine = create_engine(default_sqlite_url(tmp_path))
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INT)")
        await connection.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_sqlite_reads_neither_wait_for_a_writer_nor_hold_one_up(sqlite: AsyncEngine) -> None:
    factory = session_factory(sqlite)
    async with asyncio.timeout(2):  # a read that took the write lock would wait 5 s here
        async with factory.begin() as writer:
            await writer.execute(text("UPDATE counter SET value = 1"))
            async with factory() as reader:
                during = await reader.scalar(text("SELECT value FROM counter"))
        async with factory() as reader:
            await reader.scalar(text("SELECT value FROM counter"))
            async with factory.begin() as writer:  # while that read is still open
                await writer.execute(text("UPDATE counter SET value = 2"))
            after = await reader.scalar(text("SELECT value FROM counter"))

    assert during == 0  # the committed value, not the pending write
    assert after == 1  # one snapshot per read transaction


async def test_sqlite_writers_take_turns_in_the_order_they_came(sqlite: AsyncEngine) -> None:
    factory = session_factory(sqlite)
    turns: list[int] = []

    async def write(number: int) -> None:
        async with factory.begin() as session:
            turns.append(number)
            await session.execute(text("UPDATE counter SET value = value + 1"))

    async with factory.begin() as first:
        await first.execute(text("UPDATE counter SET value = value + 1"))
        waiting = []
        for number in range(8):
            waiting.append(asyncio.create_task(write(number)))
            await asyncio.sleep(0)  # this one queues before the next is created
        await asyncio.sleep(0.05)
        assert turns == []
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)

    assert turns == list(range(8))
    async with factory() as session:
        assert await session.scalar(text("SELECT value FROM counter")) == 9


async def test_a_failed_sqlite_write_gives_up_its_turn(sqlite: AsyncEngine) -> None:
    factory = session_factory(sqlite)

    async def write_then_fail() -> None:
        async with factory.begin() as session:
            await session.execute(text("UPDATE counter SET value = 5"))
            raise LookupError("the caller's own failure")

    async def begin_twice() -> None:
        async with factory() as session:
            await session.execute(text("SELECT 1"))
            async with session.begin():
                pass

    with pytest.raises(LookupError):
        await write_then_fail()
    with pytest.raises(InvalidRequestError, match="already begun"):
        await begin_twice()

    async with asyncio.timeout(2), factory.begin() as session:
        assert await session.scalar(text("SELECT value FROM counter")) == 0


async def test_a_sqlite_writer_waits_for_its_turn_at_most_the_busy_timeout(
    sqlite: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    factory = session_factory(sqlite)
    async with factory.begin():
        with pytest.raises(OperationalError, match="BEGIN IMMEDIATE"):
            async with factory.begin():
                pass  # a write nested in a write can never have its turn


async def test_another_process_holding_the_write_lock_is_a_database_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "SQLITE_BUSY_TIMEOUT_MS", 50)  # the connections' timeout
    engine = create_engine(default_sqlite_url(tmp_path))
    factory = session_factory(engine)
    other = sqlite3.connect(tmp_path / "paydesk.sqlite3", isolation_level=None)
    try:
        async with factory.begin() as session:
            await session.execute(text("CREATE TABLE counter (value INT)"))
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"):
            async with factory.begin() as session:
                await session.execute(text("INSERT INTO counter VALUES (1)"))
        other.execute("ROLLBACK")
        async with asyncio.timeout(2), factory.begin() as session:  # its turn was given back
            await session.execute(text("INSERT INTO counter VALUES (2)"))
    finally:
        other.close()
        await engine.dispose()


async def test_a_connection_back_in_the_pool_mid_transaction_is_rolled_back(
    sqlite: AsyncEngine, tmp_path: Path
) -> None:
    def return_it_mid_transaction(connection: Connection) -> None:
        raw = connection.engine.raw_connection()
        raw.dbapi_connection.run_async(  # type: ignore[union-attr]
            lambda driver: driver.execute("BEGIN IMMEDIATE")
        )
        raw.close()

    async with sqlite.connect() as connection:
        await connection.run_sync(return_it_mid_transaction)

    other = sqlite3.connect(tmp_path / "paydesk.sqlite3", isolation_level=None, timeout=0.1)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if it had stayed open
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_sqlite_sessions_on_a_connection_or_in_memory_write_too() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("CREATE TABLE counter (value INT)")
            await connection.commit()
            async with SQLiteSession(bind=connection) as bound, bound.begin():
                await bound.execute(text("INSERT INTO counter VALUES (1)"))
        async with session_factory(engine).begin() as session:
            await session.execute(text("INSERT INTO counter VALUES (2)"))
        async with session_factory(engine)() as reader:
            assert list(await reader.scalars(text("SELECT value FROM counter"))) == [1, 2]
    finally:
        await engine.dispose()


async def test_a_sqlite_session_without_a_bind_cannot_write() -> None:
    with pytest.raises(ArgumentError, match="needs a bind"):
        async with SQLiteSession().begin():
            pass


def test_postgresql_sessions_read_in_autocommit() -> None:
    factory = session_factory(create_engine("postgresql://paydesk@db/paydesk"))

    assert factory.class_ is PostgreSQLSession
    assert factory.kw["bind"].get_execution_options()["isolation_level"] == "AUTOCOMMIT"


async def test_database_errors_do_not_carry_bound_values(tmp_path: Path) -> None:
    engine = create_engine(default_sqlite_url(tmp_path))
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("CREATE TABLE secrets (key TEXT UNIQUE)")
            insert = text("INSERT INTO secrets (key) VALUES (:key)")
            await connection.execute(insert, {"key": "session-key-abc"})
            with pytest.raises(IntegrityError) as failed:
                await connection.execute(insert, {"key": "session-key-abc"})
    finally:
        await engine.dispose()

    assert "INSERT INTO secrets" in str(failed.value)
    assert "session-key-abc" not in str(failed.value)
