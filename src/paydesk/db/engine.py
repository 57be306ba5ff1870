"""Async engines for the two supported backends, and the session factory.

SQLite (a file in the data directory) is the embedded default; PostgreSQL through asyncpg is
for production. A URL may name the driver or leave it to paydesk::

    >>> normalize_url("postgresql://paydesk@db/paydesk")
    'postgresql+asyncpg://paydesk@db/paydesk'
    >>> normalize_url("sqlite:////var/lib/paydesk/paydesk.sqlite3")
    'sqlite+aiosqlite:////var/lib/paydesk/paydesk.sqlite3'

Sessions from :func:`session_factory` read when they begin on their own (``db()``) and write
in an explicit ``begin()``: how each backend does that is in :mod:`paydesk.db.sqlite` (one
writer at a time per file, reads that take no lock) and :mod:`paydesk.db.postgresql` (reads
in autocommit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from paydesk.db.liveness import ping_when_idle
from paydesk.db.postgresql import PostgreSQLSession
from paydesk.db.sqlite import SQLITE_BEGIN, SQLiteSession, configure_sqlite_engine

__all__ = [
    "UnsupportedDatabaseURL",
    "create_engine",
    "default_sqlite_url",
    "is_postgresql",
    "normalize_url",
    "session_factory",
]

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

    SQLite: WAL journal with ``synchronous=NORMAL``, foreign keys enforced, a 5 s busy
    timeout, transactions begun as :data:`SQLITE_BEGIN` says (``BEGIN IMMEDIATE`` unless told
    otherwise), no rollback of an already finished transaction when a connection goes back to
    the pool; the file's directory is created if missing. PostgreSQL: asyncpg with a pool of 20
    (+10 overflow), a ping before handing out a connection idle for over 2 s
    (:mod:`paydesk.db.liveness`), recycling after 30 min, and the session time zone set to UTC.
    Both: bound values are left out of error messages (``hide_parameters``). ``options`` go to
    SQLAlchemy and win over these.

    >>> engine = create_engine("sqlite+aiosqlite:///:memory:")
    >>> is_postgresql(engine)
    False
    """
    parsed = _parse(url)
    # A database error's message would otherwise carry the statement's bound values into the
    # logs: session keys, tokens, payers' openids. The statement itself is still shown.
    options = {"hide_parameters": True, **options}
    if parsed.get_backend_name() == "postgresql":
        defaults: dict[str, Any] = {
            "connect_args": {"server_settings": {"timezone": "UTC", "application_name": "paydesk"}},
        }
        if "poolclass" not in options:  # sizing applies to the default queue pool only
            # 20 kept open: beyond pool_size every checkout opens and closes a connection
            # (~5 ms each), which under a burst costs more than the idle connections.
            defaults.update(pool_size=20, max_overflow=10, pool_recycle=1800)
        engine = _create_async_engine(parsed, **{**defaults, **options})
        if not engine.pool._pre_ping:  # a caller asking for pre_ping gets SQLAlchemy's own
            ping_when_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # _reset_sqlite_connection does the pool's rollback-on-return, when there is something
    # to roll back (every rollback is a round trip to aiosqlite's thread).
    engine = _create_async_engine(parsed, **{"pool_reset_on_return": None, **options})
    configure_sqlite_engine(engine)
    return engine


def is_postgresql(engine: AsyncEngine) -> bool:
    """Whether ``engine`` talks to PostgreSQL (``FOR UPDATE SKIP LOCKED`` etc. available).

    >>> is_postgresql(create_engine("postgresql://localhost/paydesk"))
    True
    """
    return engine.dialect.name == "postgresql"


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to ``engine`` that keep loaded values after commit.

    ``expire_on_commit=False`` because an async session cannot lazily reload an expired
    attribute; code reads what it wrote after committing. A session that begins on its own
    reads, and an explicit ``begin()`` writes: on SQLite the read is DEFERRED (see the module
    docstring), on PostgreSQL it runs in autocommit (:class:`PostgreSQLSession`).

    >>> factory = session_factory(create_engine("sqlite+aiosqlite:///:memory:"))
    >>> factory.kw["expire_on_commit"], factory.class_.__name__
    (False, 'SQLiteSession')
    """
    if is_postgresql(engine):
        return async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            class_=PostgreSQLSession,
        )
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        class_=SQLiteSession,
        execution_options={SQLITE_BEGIN: "DEFERRED"},
    )
