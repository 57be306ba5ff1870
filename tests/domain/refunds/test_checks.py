"""A refund report is checked against our refund and order before it may move anything."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.models import Anomaly
from paydesk.domain.ids import IdSource
from paydesk.domain.refunds import RefundReport
from paydesk.domain.refunds.checks import mismatch, record
from paydesk.domain.refunds.reserve import reserve_refund
from tests.domain.refunds.conftest import MCHID, T0, PaidOrder

pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, None),
        ({"refund": 25, "total": 100}, None),
        ({"refund": 26}, {"field": "refund", "ours": 25, "reported": 26}),
        ({"total": 101}, {"field": "total", "ours": 100, "reported": 101}),
        ({"out_trade_no": "PD_ELSEWHERE"}, {"field": "out_trade_no", "reported": "PD_ELSEWHERE"}),
    ],
)
async def test_what_contradicts_our_records(
    db: async_sessionmaker[AsyncSession],
    ids: IdSource,
    paid_order: PaidOrder,
    fields: dict[str, Any],
    problem: dict[str, Any] | None,
) -> None:
    order = await paid_order(amount=100)
    async with db.begin() as session:
        refund = await reserve_refund(
            session,
            order_id=order.id,
            amount=25,
            reason=None,
            out_refund_no=None,
            mchid=None,
            cause="test",
            now=T0,
            ids=ids,
        )
        report = RefundReport(
            mchid=MCHID, out_refund_no=refund.out_refund_no, status="SUCCESS", **fields
        )
        assert await mismatch(session, order, refund, report) == problem
        if problem is not None:
            await record(
                session, "refund_mismatch", report, "test", T0, ids, order, refund, problem
            )
    async with db() as session:
        stored = list(await session.scalars(select(Anomaly)))
    assert [a.detail.get("field") for a in stored] == (
        [] if problem is None else [problem["field"]]
    )
    for anomaly in stored:
        assert (anomaly.order_id, anomaly.refund_id, anomaly.detail["cause"]) == (
            order.id,
            refund.id,
            "test",
        )
