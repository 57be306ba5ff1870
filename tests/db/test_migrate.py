"""The packaged migrations produce exactly the models' schema, on the selected backend."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, String, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.db import migrate
from paydesk.db.engine import create_engine, default_sqlite_url
from paydesk.db.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    alembic_config,
    current_revision,
    current_revision_async,
    head_revision,
    upgrade,
    upgrade_async,
)
from paydesk.db.models import Base

pytestmark = pytest.mark.backends


def _differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _check_constraints(connection: Connection) -> set[tuple[str, str]]:
    inspector = inspect(connection)
    return {
        (table, str(check["name"]))
        for table in inspector.get_table_names()
        for check in inspector.get_check_constraints(table)
    }


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_the_run_database_is_migrated_to_head(database_url: str) -> None:
    assert head_revision() == "0002"
    assert current_revision(database_url) == "0002"


async def test_the_migrated_schema_is_exactly_the_models(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        differences = await connection.run_sync(_differences, Base.metadata)

    assert differences == []


async def test_the_comparison_notices_a_column_the_migration_lacks(
    db_engine: AsyncEngine,
) -> None:
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["orders"].append_column(Column("coupon_code", String(32)))

    async with db_engine.connect() as connection:
        differences = await connection.run_sync(_differences, drifted)

    assert [(d[0], d[2], d[3].name) for d in differences] == [
        ("add_column", "orders", "coupon_code")
    ]


async def test_the_database_has_every_check_constraint_of_the_models(
    db_engine: AsyncEngine,
) -> None:
    # compare_metadata does not look at CHECK constraints, so compare their names here.
    expected = {
        (table.name, str(constraint.name))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if str(constraint.name).startswith("ck_")
    }

    async with db_engine.connect() as connection:
        found = await connection.run_sync(_check_constraints)

    assert len(expected) == 18
    assert found == expected


def test_upgrading_an_up_to_date_database_changes_nothing(database_url: str) -> None:
    upgrade(database_url)

    assert current_revision(database_url) == head_revision()


def test_a_fresh_database_goes_up_down_and_up_again(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert current_revision(fresh_database_url) is None

    upgrade(fresh_database_url)
    assert current_revision(fresh_database_url) == "0002"

    # Downgrading goes through env.py's own-engine path, as the ``alembic`` command would.
    monkeypatch.setenv("PAYDESK_DATABASE_URL", fresh_database_url)
    command.downgrade(alembic_config(), "base")
    assert current_revision(fresh_database_url) is None
    assert asyncio.run(_inspect(fresh_database_url, _tables)) == {"alembic_version"}

    upgrade(fresh_database_url)
    assert set(Base.metadata.tables) < asyncio.run(_inspect(fresh_database_url, _tables))


async def _inspect(url: str, read: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_replicas_starting_together_migrate_one_after_the_other(
    fresh_database_url: str,
) -> None:
    engines = [create_engine(fresh_database_url) for _ in range(3)]
    try:
        # Without the advisory lock these interleave on PostgreSQL and hang on each other's
        # CREATE TABLE (Alembic's ``op`` is a process global), hence the timeout.
        await asyncio.wait_for(
            asyncio.gather(*(upgrade_async(engine) for engine in engines)), timeout=30
        )
        revision = await current_revision_async(engines[0])
        if fresh_database_url.startswith("sqlite"):  # whichever connection won the race
            async with engines[-1].connect() as connection:  # switched the file to WAL
                mode = await connection.exec_driver_sql("PRAGMA journal_mode")
                assert mode.scalar() == "wal"
    finally:
        for engine in engines:
            await engine.dispose()

    assert revision == "0002"


def test_offline_mode_prints_the_sql_for_a_dba() -> None:
    config = alembic_config()
    config.output_buffer = io.StringIO()
    config.cmd_opts = argparse.Namespace(x=["url=postgresql://dba@db/paydesk"])

    command.upgrade(config, "head", sql=True)

    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE orders" in sql
    assert "CONSTRAINT ck_orders_refunded_within_paid" in sql
    assert "metadata JSONB NOT NULL" in sql


def test_the_alembic_command_needs_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYDESK_DATABASE_URL", raising=False)

    with pytest.raises(MigrationError, match="PAYDESK_DATABASE_URL"):
        command.upgrade(alembic_config(), "head", sql=True)


def test_sqlite_migrations_refuse_to_commit_broken_foreign_keys(tmp_path: Path) -> None:
    url = default_sqlite_url(tmp_path)
    upgrade(url)
    with sqlite3.connect(tmp_path / "paydesk.sqlite3") as raw:  # foreign keys off by default
        raw.execute(
            "INSERT INTO order_events (order_id, to_state, cause, detail, created_at)"
            " VALUES ('ord_gone', 'CREATED', 'api.create', '{}', '2024-05-01 00:00:00')"
        )
    raw.close()

    with pytest.raises(MigrationError, match=r"1 row\(s\) break a foreign key.*order_events"):
        upgrade(url)


def test_a_package_without_migrations_has_no_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "versions").mkdir()
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path)

    with pytest.raises(MigrationError, match="no migration scripts"):
        head_revision()


def test_importing_the_environment_outside_alembic_runs_nothing() -> None:
    spec = importlib.util.spec_from_file_location("paydesk_env_probe", MIGRATIONS_DIR / "env.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)

    spec.loader.exec_module(module)

    assert callable(module.run)
