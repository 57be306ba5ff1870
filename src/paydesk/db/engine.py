"""Async engines for the two supported backends, and the session factory.

SQLite (a file in the data directory) is the embedded default; PostgreSQL through asyncpg is
for production. A URL may name the driver or leave it to paydesk::

    >>> normalize_url("postgresql://paydesk@db/paydesk")
    'postgresql+asyncpg://paydesk@db/paydesk'
    >>> normalize_url("sqlite:////var/lib/paydesk/paydesk.sqlite3")
    'sqlite+aiosqlite:////var/lib/paydesk/paydesk.sqlite3'

On SQLite, sessions from :func:`session_factory` tell reads from writes by how they start:
``db()`` (a session that begins on its own) reads with a plain, DEFERRED ``BEGIN`` and never
takes the write lock; ``db.begin()`` / ``session.begin()`` writes: it queues for the process's
writer lock (first come, first served), then ``BEGIN IMMEDIATE``. Measurements and the
reasons: docs/performance.md.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
)
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from paydesk.db.liveness import ping_when_idle

__all__ = [
    "SQLITE_BEGIN",
    "SQLITE_BUSY_TIMEOUT_MS",
    "PostgreSQLSession",
    "ReadSessionWrite",
    "SQLiteSession",
    "UnsupportedDatabaseURL",
    "create_engine",
    "default_sqlite_url",
    "is_postgresql",
    "normalize_url",
    "session_factory",
]

#: How long a SQLite writer waits for the write lock (another process's, or its turn in this
#: process's queue) before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000
#: Connection execution option: how a SQLite transaction begins, ``"IMMEDIATE"`` (the default:
#: takes the write lock at once) or ``"DEFERRED"`` (a read: takes no lock).
SQLITE_BEGIN = "paydesk_sqlite_begin"

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
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    event.listen(engine.sync_engine, "reset", _reset_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module (it would BEGIN only before DML,
    # and DEFERRED); _begin_sqlite_transaction emits the BEGIN instead. See SQLAlchemy's
    # "Transactions with SQLite and the sqlite3 driver".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL is a property of the file, kept once set, and a connection follows the file's
        # mode once it reads it. Connections opened together on a new file (replicas
        # starting at once) race to switch it, and a loser got "database is locked" despite
        # busy_timeout (CI, under load): the winner makes the file WAL, so that is no error.
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: still atomic and
        # consistent, and safe when the process crashes; a power cut or an OS crash may undo
        # the last commits. https://www.sqlite.org/pragma.html#pragma_synchronous
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # SQLite allows one writer. A DEFERRED transaction that reads and then writes fails at
    # once with SQLITE_BUSY when another writer committed in between (busy_timeout does not
    # help with a stale snapshot). So writers begin IMMEDIATE: they take the write lock up
    # front and queue for it; reads (SQLITE_BEGIN="DEFERRED") take no lock at all.
    # https://www.sqlite.org/lang_transaction.html#deferred_immediate_and_exclusive_transactions
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    statement = "BEGIN" if mode == "DEFERRED" else "BEGIN IMMEDIATE"
    # Straight to aiosqlite: one trip to its thread, where exec_driver_sql makes three
    # (cursor, execute, close). Errors are mapped as SQLAlchemy maps a statement's.
    try:
        connection.connection.dbapi_connection.run_async(  # type: ignore[union-attr]
            lambda driver: driver.execute(statement)
        )
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def _reset_sqlite_connection(
    dbapi_connection: Any, _record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    # Always ROLLBACK, never "only if in_transaction": a task cancelled while its BEGIN was
    # queued on aiosqlite's thread returns the connection before that BEGIN has run, so
    # in_transaction still reads False here. The ROLLBACK queues behind the BEGIN and undoes
    # it (sqlite3's rollback() is a no-op outside a transaction).
    if state.asyncio_safe and not state.terminate_only:
        dbapi_connection.rollback()


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


# --- PostgreSQL: reads without BEGIN / ROLLBACK -------------------------------------------------

#: Key of ``Session.info`` under which a PostgreSQL write transaction marks itself.
_WRITING = "paydesk_postgresql_writing"


class ReadSessionWrite(InvalidRequestError):
    """Something was written in a PostgreSQL session that began on its own (a read session,
    in autocommit): write in ``db.begin()`` / ``session.begin()`` instead."""


class _PostgreSQLSyncSession(Session):
    """The ORM session under :class:`PostgreSQLSession`."""


@event.listens_for(_PostgreSQLSyncSession, "before_flush")
def _refuse_writes_in_reads(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_WRITING) is None:
        raise ReadSessionWrite(
            "this session began on its own (a read, in autocommit): write in db.begin()"
        )


@event.listens_for(_PostgreSQLSyncSession, "after_transaction_end")
def _forget_writing(session: Session, transaction: SessionTransaction) -> None:
    if session.info.get(_WRITING) is transaction:
        del session.info[_WRITING]


class PostgreSQLSession(AsyncSession):
    """An :class:`AsyncSession` that reads in autocommit and writes in a transaction.

    A session that begins on its own (``db()``) only reads, and under READ COMMITTED every
    statement takes its own snapshot anyway: running it in autocommit gives the same answers
    and saves two round trips per session (``BEGIN``, ``ROLLBACK``). An explicit ``begin()``
    (``db.begin()``, ``session.begin()``) is a real transaction, READ COMMITTED, as before::

        async with factory() as session:          # autocommit: no BEGIN
            order = await session.get(Order, order_id)
        async with factory.begin() as session:    # BEGIN … COMMIT
            session.add(order_event)

    A write in a session that began on its own would be committed statement by statement, so
    such a session refuses to flush (:class:`ReadSessionWrite`).
    """

    sync_session_class = _PostgreSQLSyncSession

    def begin(self) -> AsyncSessionTransaction:
        """A write transaction (not autocommit), begun when entered."""
        return _PostgreSQLTransaction(self)


class _PostgreSQLTransaction(AsyncSessionTransaction):
    async def start(self, is_ctxmanager: bool = False) -> AsyncSessionTransaction:
        await super().start(is_ctxmanager)
        self.session.sync_session.info[_WRITING] = self.sync_transaction
        try:
            # paydesk's writes are made for READ COMMITTED (compare-and-set updates, row locks):
            # PostgreSQL's default, stated here so a server-wide setting cannot change it.
            await self.session.connection(execution_options={"isolation_level": "READ COMMITTED"})
        except BaseException:
            await self.rollback()  # not entered: nobody else would end it
            raise
        return self


# --- SQLite writers: one at a time per database file, first come first served ----------------

#: The writer locks of each event loop, by database (asyncio locks belong to one loop).
_WRITER_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]
_WRITER_LOCKS = weakref.WeakKeyDictionary()
#: Key of ``Session.info`` under which a write transaction keeps the lock it holds.
_HELD = "paydesk_sqlite_writer"


def _writer_lock(bind: AsyncEngine | AsyncConnection | None) -> asyncio.Lock:
    engine = bind.engine if isinstance(bind, AsyncConnection) else bind
    if engine is None:
        raise ArgumentError("a SQLite session needs a bind (session_factory gives it one)")
    database = engine.url.database or ""
    # Each connection to an in-memory database has its own: nothing to share with others.
    key = database if database and database != ":memory:" else f"pool:{id(engine.pool)}"
    locks = _WRITER_LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(key, asyncio.Lock())


class _SQLiteSyncSession(Session):
    """The ORM session under :class:`SQLiteSession`: releases its writer lock on every end."""


@event.listens_for(_SQLiteSyncSession, "after_transaction_end")
def _release_writer_lock(session: Session, transaction: SessionTransaction) -> None:
    held = session.info.get(_HELD)
    if held is not None and held[0] is transaction:  # the write transaction, not a savepoint
        del session.info[_HELD]
        held[1].release()


class SQLiteSession(AsyncSession):
    """An :class:`AsyncSession` whose explicit ``begin()`` is a write transaction.

    SQLite's own wait for the write lock (``busy_timeout``) polls with growing sleeps, so
    under load a newcomer often wins over a writer that has waited for seconds, until one
    gives up with "database is locked". Writers of one process wait here instead, in an
    asyncio queue, and only then ``BEGIN IMMEDIATE``; between processes ``busy_timeout``
    still applies. The lock is released when the transaction ends, however it ends.

        async with factory.begin() as session:   # waits for its turn, then BEGIN IMMEDIATE
            session.add(order)
    """

    sync_session_class = _SQLiteSyncSession

    def begin(self) -> AsyncSessionTransaction:
        """A write transaction: the writer lock, then ``BEGIN IMMEDIATE`` (when entered)."""
        return _WriteTransaction(self)


class _WriteTransaction(AsyncSessionTransaction):
    async def start(self, is_ctxmanager: bool = False) -> AsyncSessionTransaction:
        lock = _writer_lock(self.session.bind)
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await lock.acquire()
        except TimeoutError as exc:
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        try:
            await super().start(is_ctxmanager)
        except BaseException:
            lock.release()
            raise
        # From here on the end of the transaction releases the lock (_release_writer_lock).
        self.session.sync_session.info[_HELD] = (self.sync_transaction, lock)
        try:
            await self.session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        except BaseException:
            await self.rollback()  # not entered: nobody else would end it
            raise
        return self
