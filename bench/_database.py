"""The benches' throwaway database: a fresh PostgreSQL database when a server answers, else SQLite.

The PostgreSQL server is the one at ``$PAYDESK_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), reached as a user allowed to create
databases. Each bench run creates its own database, named after the bench and the process, so
runs never share rows, and drops it afterwards even if the run failed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from paydesk.db.engine import default_sqlite_url
from paydesk.db.migrate import upgrade

POSTGRES_URL_ENV = "PAYDESK_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """The PostgreSQL server's URL (from the environment, else the default)."""
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


async def postgres_reachable(url: str) -> bool:
    """Whether a PostgreSQL server answers at ``url`` within a few seconds."""
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def _execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database(admin: str, prefix: str) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, migrated database ``<prefix>_<pid>`` on ``admin``'s
    server, dropped afterwards (``WITH (FORCE)``: leftover connections do not keep it)."""
    if not prefix.isidentifier():
        raise ValueError(f"database name prefix must be an identifier, not {prefix!r}")
    name = f"{prefix}_{os.getpid()}"
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        address = make_url(admin).set(drivername="postgresql+asyncpg", database=name)
        rendered = address.render_as_string(hide_password=False)
        upgrade(rendered)
        yield rendered
    finally:
        asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def bench_database(prefix: str) -> Iterator[tuple[str, str]]:
    """``(label, url)`` of a fresh, migrated database, removed afterwards: PostgreSQL (named
    ``<prefix>_<pid>``) when the server answers, else a SQLite file in a temporary directory.
    ``label`` says which, for the bench's report."""
    admin = admin_url()
    if asyncio.run(postgres_reachable(admin)):
        with postgres_database(admin, prefix) as url:
            yield "PostgreSQL", url
        return
    with tempfile.TemporaryDirectory() as directory:
        url = default_sqlite_url(Path(directory))
        upgrade(url)
        yield "SQLite (PostgreSQL not reachable)", url
