"""The declarative base: one ``MetaData`` with explicit constraint names, and the type map.

Every constraint and index gets a predictable name, so a migration can refer to it on both
backends (SQLite and PostgreSQL would otherwise invent different ones)::

    >>> NAMING_CONVENTION["uq"]
    'uq_%(table_name)s_%(column_0_N_name)s'

The type map means a model only says what a column *is*: ``Mapped[datetime]`` becomes
:class:`~paydesk.db.types.UTCDateTime`, ``Mapped[dict[str, Any]]`` JSON (``JSONB`` on
PostgreSQL), and ``Mapped[SomeStrEnum]`` a ``VARCHAR(32)`` with a ``CHECK`` listing the values.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

from paydesk.db.types import JSONType, UTCDateTime

__all__ = ["NAMING_CONVENTION", "Base"]

#: Constraint and index names: ``uq_orders_out_trade_no``, ``ck_orders_amount_positive``,
#: ``fk_refunds_order_id_orders``, ``ix_orders_state_updated_at``, ``pk_orders``.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    """Store a ``StrEnum`` by its value (``"v3"``), not by its member name (``"V3"``)."""
    return [str(member.value) for member in enum_class]


class Base(DeclarativeBase):
    """Base class of every paydesk table.

    >>> Base.metadata.naming_convention["pk"]
    'pk_%(table_name)s'
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
        # Not a native PostgreSQL ENUM: adding a state later is then an ordinary CHECK change
        # on both backends instead of an ALTER TYPE that cannot run inside a transaction.
        enum.Enum: Enum(
            enum.Enum,
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=_enum_values,
        ),
    }
