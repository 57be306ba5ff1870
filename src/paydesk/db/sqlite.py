"""SQLite as paydesk runs it: how connections are configured, how transactions begin, and one
writer at a time per database file in each process.

Sessions from :func:`paydesk.db.engine.session_factory` tell reads from writes by how they
start: ``db()`` (a session that begins on its own) reads with a plain, DEFERRED ``BEGIN`` and
never takes the write lock; ``db.begin()`` / ``session.begin()`` writes: it queues for the
process's writer lock (first come, first served), then ``BEGIN IMMEDIATE``. Measurements and
the reasons: docs/performance.md.

    >>> from paydesk.db.engine import create_engine, session_factory
    >>> session_factory(create_engine("sqlite+aiosqlite:///:memory:")).class_ is SQLiteSession
    True
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

__all__ = ["SQLITE_BEGIN", "SQLITE_BUSY_TIMEOUT_MS", "SQLiteSession", "configure_sqlite_engine"]

#: How long a SQLite writer waits for the write lock (another process's, or its turn in this
#: process's queue) before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000
#: Connection execution option: how a SQLite transaction begins, ``"IMMEDIATE"`` (the default:
#: takes the write lock at once) or ``"DEFERRED"`` (a read: takes no lock).
SQLITE_BEGIN = "paydesk_sqlite_begin"


def configure_sqlite_engine(engine: AsyncEngine) -> None:
    """Configure every connection ``engine`` opens, how its transactions begin, and how a
    connection going back to the pool is reset (see the functions below)."""
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    event.listen(engine.sync_engine, "reset", _reset_sqlite_connection)


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
