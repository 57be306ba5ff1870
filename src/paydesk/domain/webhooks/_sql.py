"""The two places where SQLite and PostgreSQL need different SQL for webhooks.

- claiming rows: PostgreSQL adds ``FOR UPDATE SKIP LOCKED`` so concurrent workers take disjoint
  rows; SQLite has no row locks, but paydesk opens every SQLite transaction with ``BEGIN
  IMMEDIATE`` (:mod:`paydesk.db.engine`), so claims there are serialised anyway;
- inserting a delivery that may already exist: ``INSERT … ON CONFLICT DO NOTHING`` in each
  dialect's spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.models import Delivery

__all__ = ["insert_deliveries_ignoring_duplicates", "is_postgresql", "skip_locked"]

_Columns = TypeVarTuple("_Columns")


def is_postgresql(session: AsyncSession) -> bool:
    """Whether ``session`` talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def skip_locked(session: AsyncSession, query: Select[*_Columns], *, of: Any) -> Select[*_Columns]:
    """``query`` with ``FOR UPDATE OF <of> SKIP LOCKED`` on PostgreSQL, unchanged on SQLite."""
    if is_postgresql(session):
        return query.with_for_update(skip_locked=True, of=of)
    return query


async def insert_deliveries_ignoring_duplicates(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert delivery rows; one that exists for the same (event, endpoint) is left alone."""
    if not rows:
        return
    dialect = postgresql if is_postgresql(session) else sqlite
    statement = (
        dialect.insert(Delivery)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["event_id", "endpoint_id"])
    )
    await session.execute(statement)
