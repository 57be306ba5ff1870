"""The Alembic environment: run by Alembic, never imported by paydesk itself.

Three ways in:

- from :mod:`paydesk.db.migrate`, which passes an open connection in
  ``config.attributes["connection"]`` (already inside :func:`migration_transaction`);
- from the ``alembic`` command with ``-c src/paydesk/db/migrations/alembic.ini`` and the
  database in ``PAYDESK_DATABASE_URL`` (or ``-x url=…``), e.g. to autogenerate a revision;
- offline (``alembic … upgrade head --sql``), which prints the SQL instead of running it.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from paydesk.db.engine import create_engine, normalize_url
from paydesk.db.migrate import MigrationError, migration_transaction
from paydesk.db.models import Base


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "PAYDESK_DATABASE_URL"
    )
    if not url:
        raise MigrationError("no database: set PAYDESK_DATABASE_URL or pass -x url=…")
    return normalize_url(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_in_migration_transaction(connection: Connection) -> None:
    with migration_transaction(connection):
        _run(connection)


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_in_migration_transaction)
    finally:
        await engine.dispose()


def _run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Migrate through whichever of the three ways in Alembic was called by."""
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode():
        _run_offline(_url())
    elif isinstance(connection, Connection):
        _run(connection)
    else:
        asyncio.run(_run_with_own_engine(_url()))


# Alembic installs ``context.config`` while it executes this file. Anything else that merely
# imports it (doctest collection, an IDE) must not start a migration.
if hasattr(context, "config"):
    run()
