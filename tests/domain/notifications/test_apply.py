"""apply_payment / apply_refund: the effect and the stored row commit together or not at all."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.engine import is_postgresql
from paydesk.db.enums import ApiVersion
from paydesk.db.models import OrderEvent, OutboxEvent
from paydesk.domain.anomalies import record_anomaly
from paydesk.domain.ids import IdSource
from paydesk.domain.notifications.apply import apply_payment, apply_refund
from paydesk.domain.notifications.fastpath import settle_paid_at_once, takes_fast_path
from paydesk.domain.notifications.records import Inbound
from paydesk.domain.payments.settle import TradeReport
from paydesk.domain.refunds import RefundReport
from tests.domain.notifications.world import anomaly_kinds, order_row, paying_order, stored
from tests.stack import PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends

REPORT = RefundReport(mchid=PUBLIC_KEY_MCHID, out_refund_no="R1", status="SUCCESS", refund=1)


class SettleBroke(Exception):
    """Settling broke halfway."""


def _inbound(stack: Stack) -> Inbound:
    return Inbound(PUBLIC_KEY_MCHID, ApiVersion.V3, {}, b"{}", stack.services.clock.now())


async def test_a_refund_that_cannot_be_settled_leaves_no_trace(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_settle_refund(
        session: AsyncSession,
        report: RefundReport,
        *,
        cause: str,
        now: datetime,
        ids: IdSource,
    ) -> object:
        await record_anomaly(
            session, kind="refund_mismatch", mchid=report.mchid, detail={}, now=now, ids=ids
        )
        await session.flush()
        raise SettleBroke

    monkeypatch.setattr("paydesk.domain.notifications.apply.settle_refund", broken_settle_refund)
    with pytest.raises(SettleBroke):
        await apply_refund(stack.services, _inbound(stack), REPORT, event_id="E1")
    assert await stored(stack) == []
    assert await anomaly_kinds(stack) == []


async def test_what_settling_a_refund_writes_commits_with_the_row(stack: Stack) -> None:
    receipt = await apply_refund(stack.services, _inbound(stack), REPORT, event_id="E1")
    assert receipt.verdict == "anomaly:unknown_refund"
    assert [r.verdict for r in await stored(stack)] == ["anomaly:unknown_refund"]
    assert await anomaly_kinds(stack) == ["unknown_refund"]


async def test_a_payment_that_cannot_be_settled_leaves_no_trace(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    paying = await paying_order(stack)

    async def broken_settle(*args: object, **kwargs: object) -> object:
        raise SettleBroke

    monkeypatch.setattr("paydesk.domain.notifications.apply.settle", broken_settle)
    # The general way (the only one on SQLite); the one-statement way has its own test below.
    monkeypatch.setattr(
        "paydesk.domain.notifications.apply.takes_fast_path", lambda services: False
    )
    report = TradeReport(
        PUBLIC_KEY_MCHID, paying.appid, paying.out_trade_no, "SUCCESS", "42", paying.amount
    )
    with pytest.raises(SettleBroke):
        await apply_payment(stack.services, _inbound(stack), report, event_id="E1")
    assert await stored(stack) == []
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


async def test_a_payment_whose_one_statement_fails_halfway_leaves_no_trace(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert takes_fast_path(stack.services) == is_postgresql(stack.services.engine)
    if not is_postgresql(stack.services.engine):
        return  # SQLite cannot modify data inside WITH: only the general way exists there
    paying = await paying_order(stack)
    report = TradeReport(
        PUBLIC_KEY_MCHID, paying.appid, paying.out_trade_no, "SUCCESS", "42", paying.amount
    )
    now = stack.services.clock.now()
    async with stack.services.db.begin() as session:
        session.add(
            OutboxEvent(
                id="evt_taken",
                type="order.paid",
                mchid=PUBLIC_KEY_MCHID,
                payload={},
                created_at=now,
            )
        )
    # The new outbox row's id collides: the statement fails at its fourth part, after the
    # order's compare-and-set matched and the attempt and order_event were written.
    monkeypatch.setattr(stack.services.ids, "new", lambda prefix: "evt_taken")
    with pytest.raises(IntegrityError):
        await settle_paid_at_once(stack.services, _inbound(stack), report, event_id="E1")
    assert await stored(stack) == []
    order = await order_row(stack, paying.order_id)
    assert (order.state, order.transaction_id) == ("PAYING", None)
    async with stack.services.db() as session:
        events = (await session.scalars(select(OrderEvent.to_state))).all()
        outbox = (await session.scalars(select(OutboxEvent.id))).all()
    assert "PAID" not in events
    assert outbox == ["evt_taken"]
