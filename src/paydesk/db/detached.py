"""ORM objects from rows read without a session, as if a session had read them and closed.

The hot paths of PostgreSQL read and write with prebuilt statements (:mod:`paydesk.db.direct`),
but the domain around them works on :class:`~paydesk.db.models.Order`,
:class:`~paydesk.db.models.Payment` and friends. :class:`Detached` turns a row of a model's
table columns (in table order, as ``select(*table.c)`` returns them) into such an object,
*detached*: it has its identity, no pending changes, and ``session.merge()`` / ``session.get()``
treat it exactly like one loaded by a session that has since closed — which is what every
object read in ``async with services.db() as session`` is once the block ends.

    >>> from datetime import UTC, datetime
    >>> from sqlalchemy import inspect
    >>> from paydesk.db.models import ApiKey
    >>> keys = Detached(ApiKey)
    >>> at = datetime(2026, 11, 23, tzinfo=UTC)
    >>> key = keys.load(("key_1", "ci", "pdk_ab12", "0" * 64, None, at, None, None))
    >>> key.name, inspect(key).detached, inspect(key).modified
    ('ci', True, False)
    >>> keys.values(key)["key_hash"] == "0" * 64
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import BindParameter, Column, Table, bindparam, inspect
from sqlalchemy.orm import make_transient_to_detached

__all__ = ["Detached"]

Model = TypeVar("Model")


class Detached(Generic[Model]):
    """Builds detached ``model`` objects from rows of its table's columns, in table order."""

    def __init__(self, model: type[Model]) -> None:
        mapper = inspect(model)
        self.model = model
        #: The model's table, for building statements on it.
        self.table = cast(Table, mapper.local_table)
        #: The table's columns, in the order a row holds them.
        self.columns: tuple[Column[Any], ...] = tuple(mapper.local_table.columns)
        #: The attribute of each column: names differ where the column's is taken (metadata_).
        self.keys: tuple[str, ...] = tuple(
            mapper.get_property_by_column(column).key for column in self.columns
        )
        self.width = len(self.keys)

    def param(self, name: str, column: str | None = None) -> BindParameter[Any]:
        """A bound parameter ``name`` typed as the table's ``column`` (default: ``name``), so
        the value goes through the column's bind processing (UTC datetimes, JSONB, enums)."""
        return bindparam(name, type_=self.table.c[column or name].type)

    def values(self, instance: Model) -> dict[str, Any]:
        """``instance``'s value for each column, by column name (what an INSERT of it binds)."""
        return {
            column.name: getattr(instance, key)
            for column, key in zip(self.columns, self.keys, strict=True)
        }

    def load(self, row: Sequence[Any], start: int = 0) -> Model:
        """The object of ``row[start:start + width]`` (one model's columns of a wider row)."""
        values = dict(zip(self.keys, row[start : start + self.width], strict=True))
        instance = self.model(**values)
        make_transient_to_detached(instance)
        return instance
