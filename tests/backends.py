"""The databases and caches tests run against, chosen by ``PAYDESK_TEST_BACKEND``.

``sqlite`` (the default) is the embedded setup: a migrated SQLite file in a temporary
directory and no Redis (``redis_url`` is ``None``: code under test uses its in-process cache).

``postgresql`` is production's setup: a fresh database ``paydesk_test_<pid>_<random>`` created
on the PostgreSQL at 127.0.0.1:5432, migrated, and dropped at the end of the run, plus the Redis
at 127.0.0.1:6379 with a key prefix of the same shape, whose keys are deleted at the end. If
either cannot be reached the run fails with how to start it; it is never skipped. Tests marked
``@pytest.mark.backends`` are the ones ``tests/run.py`` runs again this way::

    PAYDESK_TEST_BACKEND=postgresql .venv/bin/pytest -m backends

Fixtures: ``database_url`` (session), ``db_engine``, ``db`` (its session factory) and
``db_session`` (per test; every table is emptied after each test), ``fresh_database_url`` (an
empty, unmigrated database of the selected backend, per test), ``redis_url`` and
``redis_prefix`` (session). Override the service addresses with ``PAYDESK_TEST_POSTGRES_URL``
(an admin connection) and ``PAYDESK_TEST_REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import asyncpg
import pytest
import redis
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paydesk.db.engine import create_engine, default_sqlite_url, session_factory
from paydesk.db.migrate import upgrade
from paydesk.db.models import Base

Backend = Literal["sqlite", "postgresql"]

BACKEND_ENV = "PAYDESK_TEST_BACKEND"
POSTGRES_URL_ENV = "PAYDESK_TEST_POSTGRES_URL"
REDIS_URL_ENV = "PAYDESK_TEST_REDIS_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"


def selected_backend() -> Backend:
    """The backend named by ``PAYDESK_TEST_BACKEND`` (default ``sqlite``)."""
    value = os.environ.get(BACKEND_ENV, "sqlite").strip().lower() or "sqlite"
    if value == "sqlite":
        return "sqlite"
    if value == "postgresql":
        return "postgresql"
    raise pytest.UsageError(f"{BACKEND_ENV}={value!r}: expected 'sqlite' or 'postgresql'")


def unique_name() -> str:
    """``paydesk_test_<pid>_<random>``: a database name and Redis prefix no other run uses."""
    return f"paydesk_test_{os.getpid()}_{secrets.token_hex(4)}"


# --- PostgreSQL ------------------------------------------------------------------------------


def _postgres_admin_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


async def _admin_connection() -> asyncpg.Connection:
    url = _postgres_admin_url()
    try:
        return await asyncpg.connect(url, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"{BACKEND_ENV}=postgresql but PostgreSQL at {url} cannot be reached ({exc}).\n"
            f"Start it with:  {START_POSTGRES}\n(or point {POSTGRES_URL_ENV} at another server)",
            pytrace=False,
        )


def postgres_url(database: str) -> str:
    """The ``postgresql+asyncpg://`` URL of ``database`` on the test server."""
    url = make_url(_postgres_admin_url()).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


async def create_postgres_database(name: str) -> str:
    """Create the empty database ``name`` and return its URL."""
    connection = await _admin_connection()
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return postgres_url(name)


async def drop_postgres_database(name: str) -> None:
    """Drop ``name``, first ending any connection a test left open to it."""
    connection = await _admin_connection()
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def list_test_databases() -> list[str]:
    """Every ``paydesk_test_*`` database on the server (none should outlive its run)."""
    connection = await _admin_connection()
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'paydesk\\_test\\_%' ORDER BY 1"
        )
    finally:
        await connection.close()
    return [str(row["datname"]) for row in rows]


# --- Redis -----------------------------------------------------------------------------------


def _redis_client() -> redis.Redis:
    url = os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.fail(
            f"{BACKEND_ENV}=postgresql but Redis at {url} cannot be reached ({exc}).\n"
            f"Start it with:  {START_REDIS}\n(or point {REDIS_URL_ENV} at another server)",
            pytrace=False,
        )
    return client


# --- hooks -----------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``backends`` marker and refuse an unknown backend name up front."""
    config.addinivalue_line(
        "markers",
        "backends: a database-backed test that must also pass on PostgreSQL and Redis "
        f"({BACKEND_ENV}=postgresql pytest -m backends)",
    )
    selected_backend()


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the postgresql backend, stop at once, with one clear message, if a service is down."""
    if selected_backend() != "postgresql":
        return
    try:
        asyncio.run(_probe_postgres())
        _redis_client().close()
    except pytest.fail.Exception as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.TESTS_FAILED)


async def _probe_postgres() -> None:
    connection = await _admin_connection()
    await connection.close()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def backend() -> Backend:
    """The backend this run uses."""
    return selected_backend()


@pytest.fixture(scope="session")
def database_url(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of its own for the whole run; dropped (PostgreSQL) at the end."""
    if backend == "sqlite":
        url = default_sqlite_url(tmp_path_factory.mktemp("database"))
        upgrade(url)
        yield url
        return
    name = unique_name()
    url = asyncio.run(create_postgres_database(name))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(drop_postgres_database(name))


@pytest.fixture
def fresh_database_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """An empty, never migrated database of the selected backend, for one test."""
    if backend == "sqlite":
        yield default_sqlite_url(tmp_path / "fresh")
        return
    name = unique_name()
    url = asyncio.run(create_postgres_database(name))
    try:
        yield url
    finally:
        asyncio.run(drop_postgres_database(name))


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Delete every row of every table, children first, in one transaction.

    ``DELETE`` rather than ``TRUNCATE``: on the handful of rows a test writes it is several
    times faster on PostgreSQL, and it is the same statement on SQLite.
    """
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the run's database; every table is emptied after the test."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await empty_all_tables(engine)
        await engine.dispose()


@pytest.fixture
def db(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory the code under test takes, on ``db_engine``."""
    return session_factory(db_engine)


@pytest.fixture
async def db_session(db_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on ``db_engine``; whatever it did not commit is rolled back."""
    async with session_factory(db_engine)() as session:
        yield session


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """``paydesk_test_<pid>_<random>:``, the prefix of every Redis key this run may write."""
    return f"{unique_name()}:"


@pytest.fixture(scope="session")
def redis_url(backend: Backend, redis_prefix: str) -> Iterator[str | None]:
    """The real Redis on the postgresql backend (its prefixed keys deleted after the run);
    ``None`` on sqlite, where code under test uses its in-process cache."""
    if backend == "sqlite":
        yield None
        return
    client = _redis_client()
    try:
        yield os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL)
    finally:
        try:
            keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
