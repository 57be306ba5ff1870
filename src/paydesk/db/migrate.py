"""Schema migrations, shipped inside the package and run through Alembic's API.

There is no ``alembic.ini`` to find at run time: the migrations live in
``paydesk/db/migrations`` and these functions point Alembic at them. ``paydesk db upgrade``
calls :func:`upgrade`; an application that already holds an engine awaits
:func:`upgrade_async`::

    upgrade("sqlite+aiosqlite:////srv/paydesk/data/paydesk.sqlite3")
    current_revision("postgresql+asyncpg://paydesk@db/paydesk")   # '0002' once migrated

Each upgrade runs in one transaction (both backends have transactional DDL). On PostgreSQL it
first takes an advisory lock, so replicas starting together migrate one after the other. On
SQLite, foreign keys are switched off for the duration and checked before commit, because
Alembic's batch mode rebuilds a table by copying and dropping it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from paydesk.db.engine import create_engine

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationError",
    "alembic_config",
    "current_revision",
    "current_revision_async",
    "head_revision",
    "migration_transaction",
    "upgrade",
    "upgrade_async",
]

#: Where the Alembic environment and the revision scripts live.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

#: ``pg_advisory_xact_lock`` key held while migrating: the bytes of ``paydesk`` as an integer.
MIGRATION_LOCK_KEY = int.from_bytes(b"paydesk", "big")


class MigrationError(RuntimeError):
    """A migration left the database inconsistent, so its transaction was rolled back.

    >>> str(MigrationError("2 rows break a foreign key"))
    '2 rows break a foreign key'
    """


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at paydesk's packaged migrations.

    >>> alembic_config().get_main_option("script_location") == str(MIGRATIONS_DIR)
    True
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of paydesk.

    >>> head_revision()
    '0002'
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


@contextmanager
def migration_transaction(connection: Connection) -> Iterator[None]:
    """Run the body in one transaction prepared for migrating (see the module docstring).

    ``connection`` must not be in a transaction yet. Raises :class:`MigrationError` (and rolls
    back) if, on SQLite, the migrated data breaks a foreign key.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _set_sqlite_foreign_keys(connection, enabled=False)
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            yield
            if sqlite:
                _check_sqlite_foreign_keys(connection)
    finally:
        if sqlite:
            _set_sqlite_foreign_keys(connection, enabled=True)


def _set_sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    # Through the DBAPI cursor, outside any transaction: inside one the pragma is a no-op
    # (https://www.sqlite.org/pragma.html#pragma_foreign_keys), and any statement sent
    # through SQLAlchemy would begin one first.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise MigrationError(
            f"{len(broken)} row(s) break a foreign key after migrating, in: {', '.join(tables)}"
        )


def _upgrade_on(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    with migration_transaction(connection):
        command.upgrade(config, revision)


async def upgrade_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: the newest).

    Safe to run again and from several processes at once: an up-to-date database is left
    alone.
    """
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade_on, revision)


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``; for the CLI and other sync callers.

    Runs its own event loop, so it cannot be called from inside one (await
    :func:`upgrade_async` there).
    """
    asyncio.run(_with_engine(url, revision))


async def _with_engine(url: str, revision: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        await upgrade_async(engine, revision)
    finally:
        await engine.dispose()


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision_async(engine: AsyncEngine) -> str | None:
    """The revision the database behind ``engine`` is at; ``None`` if never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_revision_of)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` if never migrated.

    Like :func:`upgrade`, this runs its own event loop.
    """

    async def read() -> str | None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            return await current_revision_async(engine)
        finally:
            await engine.dispose()

    return asyncio.run(read())
