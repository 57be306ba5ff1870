"""Column types shared by every table: UTC datetimes, money in fen, portable JSON.

``UTCDateTime`` is the only datetime type paydesk stores. It refuses naive datetimes on the way
in and always hands back aware UTC datetimes on the way out, on SQLite (which keeps no offset)
as on PostgreSQL (``timestamptz``)::

    >>> from datetime import datetime, timedelta, timezone
    >>> from sqlalchemy.dialects import sqlite
    >>> beijing = timezone(timedelta(hours=8))
    >>> UTCDateTime().process_bind_param(datetime(2024, 1, 1, 8, tzinfo=beijing), sqlite.dialect())
    datetime.datetime(2024, 1, 1, 0, 0)
    >>> UTCDateTime().process_result_value(datetime(2024, 1, 1, 0, 0), sqlite.dialect())
    datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "AutoIncrementId",
    "JSONType",
    "Money",
    "NaiveDatetimeError",
    "UTCDateTime",
]


class NaiveDatetimeError(TypeError):
    """A datetime without a timezone was about to be stored.

    A naive datetime is ambiguous (server local time? Beijing time? UTC?), so it is refused
    rather than guessed. Attach a timezone first, e.g. ``dt.replace(tzinfo=UTC)``.

    >>> str(NaiveDatetimeError(datetime(2024, 1, 1)))
    'refusing to store naive datetime 2024-01-01T00:00:00: attach a timezone first'
    """

    def __init__(self, value: datetime) -> None:
        super().__init__(
            f"refusing to store naive datetime {value.isoformat()}: attach a timezone first"
        )
        self.value = value


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC, always returned as aware UTC.

    PostgreSQL gets ``timestamp with time zone``. SQLite has no datetime type and SQLAlchemy's
    SQLite ``DateTime`` drops the offset, so the value is converted to UTC and stored without
    one; reading attaches UTC again.

    >>> UTCDateTime().process_bind_param(None, None)  # NULL stays NULL
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect | None) -> Any:
        """Convert an aware datetime to UTC for storage; refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(value)
        in_utc = value.astimezone(UTC)
        if dialect is not None and dialect.name == "sqlite":
            return in_utc.replace(tzinfo=None)
        return in_utc

    def process_result_value(
        self, value: datetime | None, dialect: Dialect | None
    ) -> datetime | None:
        """Hand back an aware UTC datetime whatever the backend returned."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON everywhere, ``JSONB`` on PostgreSQL (indexable, compact, no duplicate keys).
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

#: An amount of money in integer fen (1 CNY = 100 fen). Never a float; ``BIGINT`` in the
#: database. Use as ``amount: Mapped[Money]``.
Money: TypeAlias = Annotated[int, mapped_column(BigInteger)]

#: An append-only log's integer key. SQLite only autoincrements an ``INTEGER PRIMARY KEY``
#: (a ``BIGINT`` primary key is not a rowid alias), PostgreSQL gets ``BIGSERIAL``.
AutoIncrementId: TypeAlias = Annotated[
    int,
    mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
]
