"""An order's public view rendered by PostgreSQL (``order_view_sql``, used by the one-statement
notification path) is the view Python renders (``order_view``), field for field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from paydesk.db.engine import is_postgresql
from paydesk.db.enums import ApiVersion, OrderState
from paydesk.db.models import Order, User
from paydesk.domain.orders.views import order_view, order_view_sql
from tests.stack import Stack

pytestmark = pytest.mark.backends

WHOLE = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)  # no microseconds: no fraction printed
PRECISE = datetime(2026, 11, 23, 8, 0, 0, 120, tzinfo=UTC)  # ".000120"

CASES: dict[str, dict[str, Any]] = {
    "bare": {},
    "paid": {
        "state": OrderState.PAID,
        "payer_openid": "o-payer",
        "payer_appid": "wx5a0d5a0d00000001",
        "transaction_id": "4200000000000000000000000001",
        "paid_amount": 1998,
        "paid_at": PRECISE,
        "api_version": ApiVersion.V3,
    },
    "payer app only": {"payer_appid": "wx5a0d5a0d00000001"},
    "empty payer strings": {"payer_openid": "", "payer_appid": ""},
    "one empty payer string": {"payer_openid": "", "payer_appid": "wx5a0d5a0d00000001"},
    "closed, refunded, with a user": {
        "state": OrderState.CLOSED,
        "closed_at": WHOLE + timedelta(microseconds=999_999),
        "refunded_amount": 5,
        "user_id": "usr_1",
        "attach": "附加",
    },
    "deep metadata": {"metadata_": {"a": [1, "二", None, True], "b": {"c": {"d": 1.5}}}},
}


async def test_the_database_renders_the_view_python_renders(stack: Stack) -> None:
    if not is_postgresql(stack.services.engine):
        return  # the SQL rendering exists for PostgreSQL only
    async with stack.services.db.begin() as session:  # the user one order names
        session.add(
            User(id="usr_1", appid="wx5a0d5a0d00000001", openid="o-payer", unionid=None,
                 created_at=WHOLE, updated_at=WHOLE)
        )  # fmt: skip
    for number, (name, changes) in enumerate(CASES.items()):
        order = Order(
            **{
                "id": f"ord_view_{number}",
                "out_trade_no": f"PDVIEW{number:010d}",
                "mchid": "1900000001",
                "appid": "wx5a0d5a0d00000001",
                "merchant_order_id": f"view-{number}",
                "amount": 1999,
                "currency": "CNY",
                "description": "咖啡 ×1",
                "metadata_": {},
                "state": OrderState.CREATED,
                "refunded_amount": 0,
                "expires_at": PRECISE + timedelta(hours=2),
                "created_at": WHOLE,
                "updated_at": PRECISE,
                **changes,
            }
        )
        async with stack.services.db.begin() as session:
            session.add(order)
        async with stack.services.db() as session:
            rendered = await session.scalar(
                text(f"SELECT {order_view_sql('o')} FROM orders AS o WHERE o.id = :id"),
                {"id": order.id},
            )
            stored = await session.get(Order, order.id)
        assert stored is not None
        assert rendered == json.loads(json.dumps(order_view(stored))), name
