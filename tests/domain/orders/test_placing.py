"""``place_order``: on PostgreSQL one statement writes exactly the rows the session way writes;
on both databases a duplicate is the same Conflict and leaves nothing behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from paydesk.db.engine import is_postgresql
from paydesk.db.models import Order, OrderEvent
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Conflict, NotFound
from paydesk.domain.orders.placing import place_order
from paydesk.domain.orders.service import NewOrder
from tests.stack import Stack

pytestmark = pytest.mark.backends

NEW = NewOrder(
    merchant_order_id="shop-1",
    amount=4999,
    description="绿茶 ×2 green tea",
    attach="table 7",
    metadata={"table": 7, "vip": True, "note": None},
    expires_in=900,
    payer_openid="oPayer0000000000000000000000",
)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=123456))  # microseconds kept


def as_dict(row: Any) -> dict[str, Any]:
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}


async def stored(stack: Stack, order_id: str) -> dict[str, Any]:
    async with stack.services.db() as session:
        order = await session.get(Order, order_id)
        events = (
            await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id))
        ).all()
    assert order is not None
    return {"order": as_dict(order), "events": [as_dict(e) | {"id": 0} for e in events]}


async def test_both_ways_write_the_same_rows(world: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    if not is_postgresql(world.services.engine):
        pytest.skip("one statement on PostgreSQL only: SQLite has no data-modifying WITH")
    numbers = iter(["PDFASTWAY0000001", "PDSESSIONWAY0001"])
    monkeypatch.setattr(world.services.ids, "out_trade_no", lambda: next(numbers))
    fast = await place_order(world.services, NEW)
    monkeypatch.setattr("paydesk.domain.orders.placing.postgresql_engine", lambda db: None)
    general = await place_order(
        world.services, NewOrder(**{**vars(NEW), "merchant_order_id": "shop-2"})
    )

    fast_rows, general_rows = await stored(world, fast.id), await stored(world, general.id)
    text = json.dumps(fast_rows, default=str, sort_keys=True)
    for mine, theirs in (
        (fast.id, general.id),
        ("PDFASTWAY0000001", "PDSESSIONWAY0001"),
        ("shop-1", "shop-2"),
    ):
        text = text.replace(mine, theirs)
    assert text == json.dumps(general_rows, default=str, sort_keys=True)
    assert fast_rows["order"]["created_at"].microsecond == 123456
    assert as_dict(fast) == fast_rows["order"]  # what it returned is what it stored
    assert inspect(fast).detached


async def test_the_order_comes_back_as_stored_with_its_first_event(world: Stack) -> None:
    order = await place_order(world.services, NEW)

    rows = await stored(world, order.id)
    assert as_dict(order) == rows["order"]
    assert rows["order"]["metadata_"] == {"table": 7, "vip": True, "note": None}
    assert (rows["order"]["state"], rows["order"]["version"], rows["order"]["refunded_amount"]) == (
        "CREATED",
        0,
        0,
    )
    assert [(e["from_state"], e["to_state"], e["cause"], e["detail"]) for e in rows["events"]] == [
        (None, "CREATED", "api.create", {"amount": 4999})
    ]


async def test_a_duplicate_is_a_conflict_and_leaves_nothing_behind(world: Stack) -> None:
    first = await place_order(world.services, NEW)

    with pytest.raises(Conflict) as refused:
        await place_order(world.services, NEW)

    assert refused.value.code == "duplicate_merchant_order_id"
    assert "shop-1" in refused.value.message
    async with world.services.db() as session:
        orders = await session.scalar(select(func.count()).select_from(Order))
        events = await session.scalar(select(func.count()).select_from(OrderEvent))
    assert (orders, events) == (1, 1)
    assert (await stored(world, first.id))["order"]["merchant_order_id"] == "shop-1"


async def test_a_user_id_naming_no_user_is_not_found_and_leaves_nothing(world: Stack) -> None:
    with pytest.raises(NotFound) as refused:
        await place_order(world.services, NewOrder("shop-9", 100, "tea", user_id="usr_nobody"))

    assert refused.value.code == "user_not_found"
    assert "usr_nobody" in refused.value.message
    async with world.services.db() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        assert await session.scalar(select(func.count()).select_from(OrderEvent)) == 0
