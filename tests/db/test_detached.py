"""Objects built from a direct row behave as those a closed session leaves: detached, with no
pending change, and merged back like them (only what changed is written)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.db.detached import Detached
from paydesk.db.engine import session_factory
from paydesk.db.enums import OrderState
from paydesk.db.models import Order
from tests.db import rows

pytestmark = pytest.mark.backends

ORDERS = Detached(Order)


async def read_row(engine: AsyncEngine, order_id: str = "ord_001") -> tuple[object, ...]:
    """The order's columns in table order, as ``select(*table.c)`` returns them."""
    query = select(*ORDERS.columns).where(Order.id == order_id)
    async with session_factory(engine)() as session:
        return tuple((await session.execute(query)).one())


def columns_of(order: Order) -> dict[str, object]:
    return {attr.key: getattr(order, attr.key) for attr in inspect(order).mapper.column_attrs}


async def test_a_loaded_object_is_detached_and_equals_a_session_read(
    db_engine: AsyncEngine,
) -> None:
    await rows.insert(db_engine, rows.order(metadata_={"table": 7}))

    order = ORDERS.load(await read_row(db_engine))

    state = inspect(order)
    assert (state.detached, state.modified, state.identity) == (True, False, ("ord_001",))
    assert order.metadata_ == {"table": 7}  # the column "metadata" is the attribute metadata_
    assert order.state is OrderState.CREATED
    async with session_factory(db_engine)() as session:
        read = await session.get(Order, "ord_001")
    assert read is not None
    assert columns_of(order) == columns_of(read)


async def test_a_slice_of_a_wider_row_is_one_models_columns(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order())
    row = await read_row(db_engine)

    order = ORDERS.load(("something before", *row, "something after"), start=1)

    assert order.id == "ord_001"
    with pytest.raises(ValueError, match="shorter"):
        ORDERS.load(row[:-1])


async def test_merging_it_back_writes_what_merging_a_sessions_object_writes(
    db_engine: AsyncEngine,
) -> None:
    # session.merge() copies every loaded attribute, changed or not: a stale copy overwrites a
    # change made since it was read. The point is that a loaded object does no differently.
    twin = {"id": "ord_002", "out_trade_no": "PD20240501000002", "merchant_order_id": "shop-2"}
    await rows.insert(db_engine, rows.order(), rows.order(**twin))
    async with session_factory(db_engine)() as session:
        from_session = await session.get(Order, "ord_002")
    assert from_session is not None
    assert inspect(from_session).detached
    loaded = ORDERS.load(await read_row(db_engine, "ord_001"))
    async with session_factory(db_engine).begin() as session:  # someone else changes both
        for fresh in (await session.scalars(select(Order))).all():
            fresh.description = "changed elsewhere"

    for order in (loaded, from_session):
        order.closed_at = order.created_at + timedelta(minutes=5)
        async with session_factory(db_engine).begin() as session:
            await session.merge(order)

    async with session_factory(db_engine)() as session:
        stored = {o.id: columns_of(o) for o in (await session.scalars(select(Order))).all()}
    assert stored["ord_001"]["closed_at"] == loaded.closed_at
    for name in twin:
        stored["ord_002"][name] = stored["ord_001"][name]
    assert stored["ord_001"] == stored["ord_002"]
