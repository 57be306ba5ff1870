"""Async engines for the two supported backends, and the session factory.

SQLite (a file in the data directory) is the embedded default; PostgreSQL through asyncpg is
for production. A URL may name the driver or leave it to paydesk::

    >>> normalize_url("postgresql://paydesk@db/paydesk")
    'postgresql+asyncpg://paydesk@db/paydesk'
    >>> normalize_url("sqlite:////var/lib/paydesk/paydesk.sqlite3")
    'sqlite+aiosqlite:////var/lib/paydesk/paydesk.sqlite3'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "UnsupportedDatabaseURL",
    "create_engine",
    "default_sqlite_url",
    "is_postgresql",
    "normalize_url",
    "session_factory",
]

#: How long a SQLite connection waits for another's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_ALIASES = {"postgres": "postgresql"}


class UnsupportedDatabaseURL(ValueError):
    """The database URL is malformed or names a backend or driver paydesk does not support.

    >>> normalize_url("mysql://localhost/paydesk")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    paydesk.db.engine.UnsupportedDatabaseURL: unsupported database URL 'mysql://localhost/...
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"unsupported database URL {url!r}: use sqlite+aiosqlite:///… or postgresql+asyncpg://…"
        )


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedDatabaseURL(url) from exc
    backend = _ALIASES.get(parsed.get_backend_name(), parsed.get_backend_name())
    if backend not in _ASYNC_DRIVERS:
        raise UnsupportedDatabaseURL(url)
    driver = _ASYNC_DRIVERS[backend]
    if parsed.drivername not in (backend, driver, parsed.get_backend_name()):
        raise UnsupportedDatabaseURL(url)
    return parsed.set(drivername=driver)


def normalize_url(url: str) -> str:
    """Return ``url`` with paydesk's async driver (``aiosqlite`` / ``asyncpg``) filled in.

    ``postgres://`` (Heroku style) is accepted too; any other backend or a sync driver such
    as ``postgresql+psycopg2`` raises :class:`UnsupportedDatabaseURL`.

    >>> normalize_url("postgres://u:secret@h:5433/d")
    'postgresql+asyncpg://u:secret@h:5433/d'
    """
    # Swap the scheme only: rendering the parsed URL would re-quote the rest (":memory:").
    _scheme, _, rest = url.partition("://")
    return f"{_parse(url).drivername}://{rest}"


def default_sqlite_url(data_dir: Path) -> str:
    """The embedded default: ``paydesk.sqlite3`` inside the data directory.

    >>> default_sqlite_url(Path("/srv/paydesk/data"))
    'sqlite+aiosqlite:////srv/paydesk/data/paydesk.sqlite3'
    """
    return f"sqlite+aiosqlite:///{(data_dir / 'paydesk.sqlite3').absolute()}"


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """Create an :class:`AsyncEngine` tuned for the backend ``url`` names.

    SQLite: WAL journal, foreign keys enforced, a 5 s busy timeout, and every transaction
    started with ``BEGIN IMMEDIATE`` (see below); the file's directory is created if missing.
    PostgreSQL: asyncpg with a pool of 10 (+10 overflow), pre-ping, recycling after 30 min,
    and the session time zone set to UTC. ``options`` go to SQLAlchemy and win over these.

    >>> engine = create_engine("sqlite+aiosqlite:///:memory:")
    >>> is_postgresql(engine)
    False
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "postgresql":
        defaults: dict[str, Any] = {
            "pool_pre_ping": True,
            "connect_args": {"server_settings": {"timezone": "UTC", "application_name": "paydesk"}},
        }
        if "poolclass" not in options:  # sizing applies to the default queue pool only
            defaults.update(pool_size=10, max_overflow=10, pool_recycle=1800)
        return _create_async_engine(parsed, **{**defaults, **options})
    if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = _create_async_engine(parsed, **options)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module (it would BEGIN only before DML,
    # and DEFERRED); _begin_immediate emits the BEGIN instead. See SQLAlchemy's "Transactions
    # with SQLite and the sqlite3 driver".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # SQLite allows one writer. A DEFERRED transaction that reads and then writes fails at
    # once with SQLITE_BUSY when another writer committed in between (busy_timeout does not
    # help with a stale snapshot). IMMEDIATE takes the write lock up front, so concurrent
    # transitions queue for up to busy_timeout instead of failing.
    # https://www.sqlite.org/lang_transaction.html#deferred_immediate_and_exclusive_transactions
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql(engine: AsyncEngine) -> bool:
    """Whether ``engine`` talks to PostgreSQL (``FOR UPDATE SKIP LOCKED`` etc. available).

    >>> is_postgresql(create_engine("postgresql://localhost/paydesk"))
    True
    """
    return engine.dialect.name == "postgresql"


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to ``engine`` that keep loaded values after commit.

    ``expire_on_commit=False`` because an async session cannot lazily reload an expired
    attribute; code reads what it wrote after committing.

    >>> factory = session_factory(create_engine("sqlite+aiosqlite:///:memory:"))
    >>> factory.kw["expire_on_commit"]
    False
    """
    return async_sessionmaker(engine, expire_on_commit=False)
