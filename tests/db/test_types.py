"""UTCDateTime, Money and JSON against a real database of the selected backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Dialect, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import JSON

from paydesk.db.engine import session_factory
from paydesk.db.models import ApiKey, Order
from paydesk.db.types import JSONType, NaiveDatetimeError, UTCDateTime
from tests.db import rows

pytestmark = pytest.mark.backends

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
NEW_YORK = timezone(timedelta(hours=-5))


async def test_aware_datetimes_come_back_equal_and_in_utc(db_engine: AsyncEngine) -> None:
    written = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=BEIJING)
    await rows.insert(db_engine, rows.api_key(created_at=written, last_used_at=None))

    async with session_factory(db_engine)() as session:
        key = await session.scalar(select(ApiKey))

    assert key is not None
    assert key.created_at == written
    assert key.created_at.tzinfo is UTC
    assert key.created_at == datetime(2024, 5, 1, 4, 30, 15, 123456, tzinfo=UTC)
    assert key.last_used_at is None


async def test_stored_values_sort_by_instant_not_by_wall_clock(db_engine: AsyncEngine) -> None:
    # 09:00 in Beijing is 01:00 UTC, earlier than 08:00 in New York (13:00 UTC), although its
    # wall-clock reading is later: only a UTC-normalised column sorts these correctly.
    beijing_nine = datetime(2024, 5, 1, 9, 0, tzinfo=BEIJING)
    new_york_eight = datetime(2024, 5, 1, 8, 0, tzinfo=NEW_YORK)
    await rows.insert(
        db_engine,
        rows.api_key(id="key_ny", key_hash="1" * 64, created_at=new_york_eight),
        rows.api_key(id="key_bj", key_hash="2" * 64, created_at=beijing_nine),
    )

    async with session_factory(db_engine)() as session:
        ordered = list(await session.scalars(select(ApiKey.id).order_by(ApiKey.created_at)))
        between = await session.scalar(
            select(ApiKey.id).where(
                ApiKey.created_at > datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
                ApiKey.created_at < datetime(2024, 5, 1, 14, 0, tzinfo=UTC),
            )
        )

    assert ordered == ["key_bj", "key_ny"]
    assert between == "key_ny"


async def test_a_naive_datetime_is_refused_on_insert(db_engine: AsyncEngine) -> None:
    with pytest.raises(StatementError) as caught:
        await rows.insert(db_engine, rows.api_key(created_at=datetime(2024, 5, 1, 12, 0)))

    assert isinstance(caught.value.orig, NaiveDatetimeError)
    assert "naive datetime 2024-05-01T12:00:00" in str(caught.value)


async def test_a_naive_datetime_is_refused_in_a_where_clause(db_engine: AsyncEngine) -> None:
    async with session_factory(db_engine)() as session:
        with pytest.raises(StatementError) as caught:
            await session.scalar(select(ApiKey).where(ApiKey.created_at < datetime(2024, 1, 1)))

    assert isinstance(caught.value.orig, NaiveDatetimeError)


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (SQLiteDialect(), datetime(2024, 5, 1, 4, 0)),
        (PGDialect(), datetime(2024, 5, 1, 4, 0, tzinfo=UTC)),
    ],
    ids=["sqlite-keeps-no-offset", "postgresql-timestamptz"],
)
def test_bind_values_are_utc_per_dialect(dialect: Dialect, expected: datetime) -> None:
    beijing_noon = datetime(2024, 5, 1, 12, 0, tzinfo=BEIJING)

    value = UTCDateTime().process_bind_param(beijing_noon, dialect)

    assert value == expected
    assert value.tzinfo == expected.tzinfo


def test_result_values_from_postgresql_are_normalised_to_utc() -> None:
    returned = datetime(2024, 5, 1, 12, 0, tzinfo=BEIJING)

    value = UTCDateTime().process_result_value(returned, PGDialect())

    assert value == returned
    assert value is not None
    assert value.tzinfo is UTC


def test_json_is_jsonb_on_postgresql_and_json_elsewhere() -> None:
    assert isinstance(JSONType.dialect_impl(PGDialect()), JSONB)
    assert type(JSONType.dialect_impl(SQLiteDialect())) is not JSONB
    assert isinstance(JSONType.dialect_impl(SQLiteDialect()), JSON)


async def test_money_holds_more_than_32_bits_and_json_keeps_unicode(
    db_engine: AsyncEngine,
) -> None:
    ten_billion_yuan = 1_000_000_000_000  # in fen: beyond a 32-bit INTEGER
    metadata = {"sku": "咖啡-大杯", "tags": ["热", "无糖"], "qty": 2, "gift": None}
    await rows.insert(db_engine, rows.order(amount=ten_billion_yuan, metadata_=metadata))

    async with session_factory(db_engine)() as session:
        stored = await session.scalar(select(Order))

    assert stored is not None
    assert stored.amount == ten_billion_yuan
    assert isinstance(stored.amount, int)
    assert stored.metadata_ == metadata
