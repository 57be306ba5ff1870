"""Prebuilt Core statements run straight on asyncpg, for the one hot path that needs it.

    READ = DirectStatement(select(orders).where(orders.c.id == bindparam("p_id")), dialect)
    async with driver_connection(engine) as connection:
        row = await READ.fetchrow(connection, {"p_id": "ord_1"})

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
(docs/performance.md). Everything else goes through sessions as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import greenlet_spawn

__all__ = ["DirectStatement", "driver_connection"]

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

    async def fetchrow(self, connection: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (processed like a session's), or ``None``."""
        arguments = self.arguments(values)
        try:
            record = await connection.fetchrow(self.sql, *arguments)
        except Exception as error:
            raise _translated(error, self.sql) from error
        return None if record is None else self._row(record)


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
