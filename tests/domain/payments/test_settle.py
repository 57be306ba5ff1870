"""settle(): each road to PAID, and every way WeChat's word can disagree with ours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paydesk.db.engine import session_factory
from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Anomaly, Order, OrderEvent, OutboxEvent, Payment
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.payments.settle import Outcome, TradeReport, settle

pytestmark = pytest.mark.backends
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
IDS = IdSource(FixedClock(NOW))


@pytest.fixture
async def db(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db_engine)


async def an_order(
    db: async_sessionmaker[AsyncSession], state: OrderState = OrderState.PAYING
) -> tuple[Order, Payment]:
    order = Order(
        id=IDS.new("ord"),
        out_trade_no=IDS.out_trade_no(),
        mchid="1900000001",
        appid="wx5a0d5a0d00000001",
        merchant_order_id=IDS.new("m"),
        amount=500,
        description="d",
        metadata_={},
        state=state,
        expires_at=NOW + timedelta(hours=2),
        created_at=NOW,
        updated_at=NOW,
    )
    payment = Payment(
        id=IDS.new("pay"),
        order_id=order.id,
        out_trade_no=order.out_trade_no,
        channel=PaymentChannel.MINIPROGRAM,
        api_version=ApiVersion.V3,
        appid="wx5a0d5a0d00000001",
        mchid="1900000001",
        params_hash="0" * 64,
        expires_at=NOW + timedelta(hours=2),
        created_at=NOW,
    )
    async with db.begin() as session:
        session.add(order)
        await session.flush()
        session.add(payment)
    return order, payment


def success(payment: Payment, **overrides: object) -> TradeReport:
    fields: dict[str, object] = {
        "mchid": payment.mchid,
        "appid": payment.appid,
        "out_trade_no": payment.out_trade_no,
        "trade_state": "SUCCESS",
        "transaction_id": "4200000000202611220000000001",
        "total": 500,
        "payer_total": 500,
        "openid": "o-payer",
        "success_time": NOW,
    }
    return TradeReport(**{**fields, **overrides})  # type: ignore[arg-type]


async def apply(db: async_sessionmaker[AsyncSession], report: TradeReport) -> Outcome:
    async with db.begin() as session:
        return (await settle(session, report, cause="test", now=NOW, ids=IDS)).outcome


async def count(db: async_sessionmaker[AsyncSession], model: type, **where: object) -> int:
    async with db() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(query) or 0)


async def test_success_pays_once(db: async_sessionmaker[AsyncSession]) -> None:
    order, payment = await an_order(db)
    assert await apply(db, success(payment)) == Outcome.PAID
    assert await apply(db, success(payment)) == Outcome.DUPLICATE
    async with db() as session:
        paid = await session.get(Order, order.id)
    assert paid is not None
    assert paid.state == OrderState.PAID
    assert paid.paid_amount == 500
    assert await count(db, OrderEvent, order_id=order.id, to_state="PAID") == 1
    assert await count(db, OutboxEvent, order_id=order.id, type="order.paid") == 1


async def test_a_paid_after_close_success_is_one_anomaly_however_often_it_comes(
    db: async_sessionmaker[AsyncSession],
) -> None:
    order, payment = await an_order(db, OrderState.CLOSED)
    outcomes = [await apply(db, success(payment)) for _ in range(3)]
    assert outcomes == [Outcome.ANOMALY, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert await count(db, Anomaly, order_id=order.id, kind="paid_after_close") == 1
    assert await count(db, OutboxEvent, order_id=order.id, type="anomaly.created") == 1
    async with db() as session:
        closed = await session.get(Order, order.id)
    assert closed is not None
    assert closed.state == OrderState.CLOSED


@pytest.mark.parametrize(
    ("overrides", "kind"),
    [
        ({"total": 1}, "amount_mismatch"),
        ({"mchid": "1900000002"}, "unknown_order"),
        ({"appid": "wx5a0d5a0d00000002"}, "app_mismatch"),
        ({"out_trade_no": "PDUNKNOWN0000000000000000000"}, "unknown_order"),
    ],
)
async def test_disagreements_are_anomalies_and_change_nothing(
    db: async_sessionmaker[AsyncSession], overrides: dict[str, object], kind: str
) -> None:
    order, payment = await an_order(db)
    outcome = await apply(db, success(payment, **overrides))
    assert outcome in (Outcome.ANOMALY, Outcome.UNKNOWN_ORDER)
    assert await count(db, Anomaly, kind=kind) == 1
    async with db() as session:
        untouched = await session.get(Order, order.id)
    assert untouched is not None
    assert untouched.state == OrderState.PAYING


async def test_not_paid_states_only_note_the_attempt(db: async_sessionmaker[AsyncSession]) -> None:
    _order, payment = await an_order(db)
    assert await apply(db, success(payment, trade_state="NOTPAY")) == Outcome.NOT_PAID
    async with db() as session:
        noted = await session.get(Payment, payment.id)
    assert noted is not None
    assert noted.trade_state == "NOTPAY"
