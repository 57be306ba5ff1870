"""Engines: URLs, per-backend connection settings, and SQLite's write locking."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from paydesk.db.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    UnsupportedDatabaseURL,
    create_engine,
    default_sqlite_url,
    is_postgresql,
    normalize_url,
    session_factory,
)
from paydesk.db.models import Order
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


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine(default_sqlite_url(tmp_path / "new" / "data"))
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()

    assert pragmas == ["wal", 1, SQLITE_BUSY_TIMEOUT_MS]
    assert (tmp_path / "new" / "data" / "paydesk.sqlite3").is_file()


def test_postgresql_engines_get_a_pool_and_utc_sessions() -> None:
    engine = create_engine("postgresql://paydesk@db/paydesk")

    assert is_postgresql(engine)
    assert engine.dialect.driver == "asyncpg"
    assert engine.pool.size() == 10  # type: ignore[attr-defined]
    assert engine.pool._pre_ping


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
