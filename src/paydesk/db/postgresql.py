"""PostgreSQL sessions as paydesk runs them: reads in autocommit, writes in a READ COMMITTED
transaction.

    >>> from paydesk.db.engine import create_engine, session_factory
    >>> factory = session_factory(create_engine("postgresql://localhost/paydesk"))
    >>> factory.class_ is PostgreSQLSession
    True
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction
from sqlalchemy.orm import Session, SessionTransaction

__all__ = ["PostgreSQLSession", "ReadSessionWrite"]

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
