"""Prebuilt Core statements run straight on asyncpg, for the hot paths that need it.

    READ = Prebuilt(select(orders).where(orders.c.id == bindparam("p_id")))
    rows = await READ.rows(services.db, {"p_id": "ord_1"})  # straight on PostgreSQL, else a session

    async with driver_connection(engine) as connection:    # several on one connection
        rows = await READ.on(engine.dialect).fetch(connection, {"p_id": "ord_1"})

A :class:`DirectStatement` is compiled once for PostgreSQL. Running it applies the same bind
and result processors SQLAlchemy would (``UTCDateTime``, JSONB, enums), so the values in and
out are the ones a session sees, and asyncpg keeps it prepared on each connection.
:func:`driver_connection` checks a connection out of the engine's own pool, so the pool size,
the liveness ping and the URL's settings are the same as everywhere else. Errors come out as
SQLAlchemy's (``IntegrityError``, ``DBAPIError``) and a connection that may be broken is
invalidated, not returned to the pool.

Why: SQLAlchemy's asyncio layer costs about 0.4 ms of CPU per statement on this machine
(greenlet switches, the execution context, result metadata), more than the statement itself.
On the notification path that was half the time spent per notification
(docs/performance.md); on the pay path it was 40 % of a request. Used where a request runs
often and its writes fit in one statement: notifications, creating an order, paying it, the
reads of API keys and user sessions. Everything else goes through sessions as before, and
SQLite (whose statements cannot write inside a ``WITH``) takes the session way everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import greenlet_spawn

__all__ = ["DirectStatement", "Prebuilt", "driver_connection", "postgresql_engine"]

_Processor = Callable[[Any], Any] | None


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> _Processor:
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(type_: TypeEngine[Any], dialect: Dialect) -> _Processor:
    return type_.dialect_impl(dialect).result_processor(dialect, None)


class DirectStatement:
    """A Core statement compiled once for ``dialect`` (asyncpg), run with bound values.

    Parameters are the statement's ``bindparam`` keys; values a statement fixes itself
    (``.values(state="PAID")``) are processed once, here.

    >>> from sqlalchemy import bindparam, column, select, table
    >>> from sqlalchemy.dialects.postgresql import asyncpg
    >>> orders = table("orders", column("id"), column("state"))
    >>> read = select(orders.c.state).where(orders.c.id == bindparam("p_id"))
    >>> statement = DirectStatement(read, asyncpg.dialect())
    >>> " ".join(statement.sql.split())
    'SELECT orders.state FROM orders WHERE orders.id = $1'
    >>> statement.arguments({"p_id": "ord_1"})
    ['ord_1']
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql: str = compiled.string
        self._arguments: list[tuple[str | None, Any, _Processor]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            processor = _bind_processor(bind.type, dialect)
            if bind.required:
                self._arguments.append((bind.key, None, processor))
            else:  # fixed by the statement: process it now, once
                value = bind.effective_value
                self._arguments.append((None, processor(value) if processor else value, None))
        columns = getattr(statement, "exported_columns", ())
        processors = [_result_processor(c.type, dialect) for c in columns]
        #: (position, processor) of the result columns that have one: most have none.
        self._results = [(i, p) for i, p in enumerate(processors) if p is not None]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``values`` (keyed by ``bindparam`` key), processed."""
        return [
            fixed if key is None else (values[key] if processor is None else processor(values[key]))
            for key, fixed, processor in self._arguments
        ]

    def _row(self, record: Sequence[Any]) -> tuple[Any, ...]:
        row = list(record)
        for position, process in self._results:
            row[position] = process(row[position])
        return tuple(row)

    async def fetch(self, connection: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row (processed like a session's), in the order the server sent them."""
        arguments = self.arguments(values)
        try:
            records = await connection.fetch(self.sql, *arguments)
        except Exception as error:
            raise _translated(error, self.sql) from error
        return [self._row(record) for record in records]


class Prebuilt:
    """A statement built once at import, compiled once per dialect on first use (compiling
    costs more than running).

    >>> from sqlalchemy import bindparam, column, select, table
    >>> from sqlalchemy.dialects.postgresql import asyncpg
    >>> orders = table("orders", column("id"), column("state"))
    >>> READ = Prebuilt(select(orders.c.state).where(orders.c.id == bindparam("p_id")))
    >>> READ.on(asyncpg.dialect()) is READ.on(asyncpg.dialect())
    True
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, DirectStatement] = {}

    def on(self, dialect: Dialect) -> DirectStatement:
        """The statement compiled for ``dialect``."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = DirectStatement(self.statement, dialect)
        return compiled

    async def fetch(self, engine: AsyncEngine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it on a pooled connection of its own: every row."""
        async with driver_connection(engine) as connection:
            return await self.on(engine.dialect).fetch(connection, values)

    async def rows(
        self,
        database: async_sessionmaker[AsyncSession],
        values: Mapping[str, Any],
        *,
        write: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Every row, on either database: straight on the driver on PostgreSQL, else through a
        session of ``database`` (a ``begin()`` for a ``write``), with the same values out.

        ``rows = await READ.rows(services.db, {"p_id": "ord_1"})``
        """
        engine = postgresql_engine(database)
        if engine is not None:
            return await self.fetch(engine, values)
        async with database.begin() if write else database() as session:
            result = await session.execute(cast(Executable, self.statement), values)
            return [tuple(row) for row in result.all()]


def postgresql_engine(database: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """The engine behind ``database`` when it is PostgreSQL (the direct way runs there), else
    ``None`` (SQLite: the session way)."""
    engine: AsyncEngine = database.kw["bind"]
    return engine if engine.dialect.name == "postgresql" else None


def _translated(error: Exception, sql: str) -> Exception:
    import asyncpg
    from asyncpg import exceptions as pg

    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError(sql, None, error, hide_parameters=True)
    connection_lost = (
        pg.PostgresConnectionError,  # 08xxx
        pg.OperatorInterventionError,  # 57xxx: the server is shutting down, the backend ended
        asyncpg.InterfaceError,
        pg.InternalClientError,  # asyncpg's protocol state after the server dropped the line
        OSError,
    )
    if isinstance(error, connection_lost):
        return exc.OperationalError(sql, None, error, hide_parameters=True)
    if isinstance(error, asyncpg.PostgresError):
        return exc.DBAPIError(sql, None, error, hide_parameters=True)
    return error


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """An asyncpg connection out of ``engine``'s pool, in autocommit (no transaction is
    begun: each statement stands alone); back to the pool afterwards.

    An error from the server (a ``PostgresError``, translated) leaves the connection usable;
    anything else escaping the block — a lost connection, a cancellation halfway through a
    statement — may leave it in an unknown state, so it is invalidated (closed) instead, as
    is a connection found closed at the end, whatever the block caught.
    """
    pooled = await engine.raw_connection()
    driver: Any = pooled.driver_connection
    failure: BaseException | None = None
    try:
        yield driver
    except BaseException as error:
        failure = error
        raise
    finally:
        if driver.is_closed() or (failure is not None and not _server_said_no(failure)):
            pooled.invalidate(failure if isinstance(failure, Exception) else None)
        await greenlet_spawn(pooled.close)


def _server_said_no(error: BaseException) -> bool:
    # The server refused a statement and the connection is fine (a constraint, bad input).
    return isinstance(error, exc.DBAPIError) and not isinstance(error, exc.OperationalError)
