"""The constraints that make paydesk's idempotency structural, on the selected backend."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.db.engine import session_factory
from paydesk.db.enums import ApiVersion, NotificationKind, OrderState
from paydesk.db.models import Base, Notification, Order, OrderEvent
from tests.db import rows

pytestmark = pytest.mark.backends


def _names(table: str, prefix: str) -> set[str]:
    constraints = Base.metadata.tables[table].constraints
    return {str(c.name) for c in constraints if str(c.name).startswith(prefix)}


async def _rejected(engine: AsyncEngine, *new_rows: Base) -> str:
    """Insert ``new_rows`` expecting the database to refuse; return its message."""
    with pytest.raises(IntegrityError) as caught:
        await rows.insert(engine, *new_rows)
    return str(caught.value.orig)


# --- unique constraints ----------------------------------------------------------------------


async def test_out_trade_no_is_unique_forever(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order())

    message = await _rejected(
        db_engine, rows.order(id="ord_002", merchant_order_id="shop-2", mchid="1900000002")
    )

    assert "out_trade_no" in message


async def test_merchant_order_id_is_unique_per_merchant_only(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order())
    other_merchant = rows.order(id="ord_002", out_trade_no="PD20240501000002", mchid="1900000002")
    await rows.insert(db_engine, other_merchant)

    message = await _rejected(db_engine, rows.order(id="ord_003", out_trade_no="PD2024050103"))

    assert "merchant_order_id" in message


async def test_transaction_id_is_unique_but_may_be_missing_on_many(
    db_engine: AsyncEngine,
) -> None:
    unpaid = [
        rows.order(id=f"ord_{n}", out_trade_no=f"PD2024050100{n}", merchant_order_id=f"s{n}")
        for n in range(3)
    ]
    await rows.insert(db_engine, *unpaid)
    await rows.insert(
        db_engine, rows.order(id="ord_paid", transaction_id="4200000001", merchant_order_id="p1")
    )

    message = await _rejected(
        db_engine,
        rows.order(
            id="ord_dup",
            out_trade_no="PD2024050199",
            merchant_order_id="p2",
            transaction_id="4200000001",
        ),
    )

    assert "transaction_id" in message


async def test_out_refund_no_is_unique(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order(), rows.refund())

    message = await _rejected(db_engine, rows.refund(id="rfd_002"))

    assert "out_refund_no" in message


async def test_idempotency_key_is_unique_per_api_key(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.idempotency_key())
    await rows.insert(db_engine, rows.idempotency_key(id="idk_002", scope="key_002"))

    message = await _rejected(db_engine, rows.idempotency_key(id="idk_003"))

    assert "scope" in message or "uq_idempotency_keys_scope_key" in message


async def test_an_event_is_delivered_once_per_endpoint(db_engine: AsyncEngine) -> None:
    await rows.insert(
        db_engine,
        rows.order(),
        rows.outbox_event(),
        rows.webhook_endpoint(),
        rows.webhook_endpoint(id="whe_002", url="https://other.example/hook"),
        rows.delivery(),
        rows.delivery(id="dlv_002", endpoint_id="whe_002"),
    )

    message = await _rejected(db_engine, rows.delivery(id="dlv_003"))

    assert "event_id" in message


async def test_every_notification_delivery_is_kept_even_with_the_same_event_id(
    db_engine: AsyncEngine,
) -> None:
    def delivery_of(event_id: str) -> Notification:
        return Notification(
            received_at=rows.T0,
            mchid="1900000001",
            api_version=ApiVersion.V3,
            kind=NotificationKind.PAYMENT,
            event_id=event_id,
            headers={"Wechatpay-Serial": "PUB_KEY_ID_0001"},
            body="{}",
            verdict="duplicate",
        )

    await rows.insert(db_engine, delivery_of("EV-1"), delivery_of("EV-1"))

    async with session_factory(db_engine)() as session:
        ids = list(await session.scalars(select(Notification.id).order_by(Notification.id)))

    assert len(ids) == 2
    assert ids[0] < ids[1]


# --- check and foreign-key constraints -------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1])
async def test_an_order_must_cost_something(db_engine: AsyncEngine, amount: int) -> None:
    message = await _rejected(db_engine, rows.order(amount=amount))

    assert "ck_orders_amount_positive" in message


async def test_a_refund_must_return_something(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order())

    message = await _rejected(db_engine, rows.refund(amount=0))

    assert "ck_refunds_amount_positive" in message


@pytest.mark.parametrize(
    ("paid_amount", "refunded_amount"),
    [(80, 81), (None, 101)],
    ids=["beyond-what-the-payer-paid", "beyond-the-amount-when-unpaid"],
)
async def test_refunds_cannot_exceed_what_was_paid(
    db_engine: AsyncEngine, paid_amount: int | None, refunded_amount: int
) -> None:
    message = await _rejected(
        db_engine, rows.order(paid_amount=paid_amount, refunded_amount=refunded_amount)
    )

    assert "ck_orders_refunded_within_paid" in message


async def test_refunding_up_to_the_paid_amount_is_accepted(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order(paid_amount=80, refunded_amount=80))


async def test_out_trade_no_has_at_least_six_characters(db_engine: AsyncEngine) -> None:
    message = await _rejected(db_engine, rows.order(out_trade_no="PD123"))

    assert "ck_orders_out_trade_no_length" in message


async def test_out_trade_no_has_at_most_32_characters(db_engine: AsyncEngine) -> None:
    # PostgreSQL's VARCHAR(32) refuses first (a DataError); on SQLite, which does not enforce
    # VARCHAR lengths, the CHECK constraint does (an IntegrityError).
    with pytest.raises(DBAPIError) as caught:
        await rows.insert(db_engine, rows.order(out_trade_no="P" * 33))

    assert "out_trade_no" in str(caught.value.orig) or "varying(32)" in str(caught.value.orig)


async def test_the_database_refuses_a_state_it_does_not_know(db_engine: AsyncEngine) -> None:
    await rows.insert(db_engine, rows.order())

    with pytest.raises(IntegrityError) as caught:
        async with db_engine.begin() as connection:
            await connection.execute(text("UPDATE orders SET state = 'SHIPPED'"))

    assert "ck_orders_orderstate" in str(caught.value.orig)


async def test_history_must_belong_to_an_existing_order(db_engine: AsyncEngine) -> None:
    orphan = OrderEvent(
        order_id="ord_missing", to_state="CREATED", cause="api.create", created_at=rows.T0
    )

    message = await _rejected(db_engine, orphan)

    assert "foreign key" in message.lower()


async def test_parents_are_inserted_before_children_whatever_the_order_added(
    db_engine: AsyncEngine,
) -> None:
    # Only the many-to-one relationships tell the unit of work which table to fill first.
    children_first = [
        rows.delivery(),
        rows.refund(),
        rows.outbox_event(),
        rows.webhook_endpoint(),
        rows.order(),
    ]

    await rows.insert(db_engine, *children_first)


# --- conditional transitions -----------------------------------------------------------------


async def test_a_conditional_transition_wins_exactly_once_among_20_sessions(
    db_engine: AsyncEngine,
) -> None:
    await rows.insert(db_engine, rows.order(state=OrderState.PAYING))
    factory = session_factory(db_engine)
    start = asyncio.Barrier(20)
    mark_paid = (
        update(Order)
        .where(Order.id == "ord_001", Order.state.in_([OrderState.CREATED, OrderState.PAYING]))
        .values(state=OrderState.PAID, version=Order.version + 1)
    )

    async def attempt() -> int:
        await start.wait()
        async with factory() as session, session.begin():
            result = await session.execute(mark_paid)
            # Hold the row (PostgreSQL) or the write lock (SQLite) a moment, so the other
            # sessions queue behind this one and must re-check the condition afterwards.
            await asyncio.sleep(0.01)
            return int(result.rowcount)  # type: ignore[attr-defined]

    changed = await asyncio.gather(*(attempt() for _ in range(20)))

    async with factory() as session:
        final = (await session.execute(select(Order.state, Order.version))).one()
    assert sorted(changed) == [0] * 19 + [1]
    assert tuple(final) == (OrderState.PAID, 1)


async def test_the_order_history_keeps_its_insertion_order(db_engine: AsyncEngine) -> None:
    steps = [("CREATED", "PAYING", "api.pay"), ("PAYING", "PAID", "notify.v3")]
    await rows.insert(db_engine, rows.order())
    for from_state, to_state, cause in steps:
        event = OrderEvent(
            order_id="ord_001",
            from_state=from_state,
            to_state=to_state,
            cause=cause,
            detail={"by": cause},
            created_at=rows.T0,
        )
        await rows.insert(db_engine, event)

    async with session_factory(db_engine)() as session:
        history = (
            await session.execute(
                select(OrderEvent.from_state, OrderEvent.to_state, OrderEvent.cause).order_by(
                    OrderEvent.id
                )
            )
        ).all()
        count = await session.scalar(select(func.count()).select_from(OrderEvent))

    assert [tuple(row) for row in history] == steps
    assert count == 2


def test_every_table_has_named_constraints() -> None:
    assert _names("orders", "uq_") == {
        "uq_orders_out_trade_no",
        "uq_orders_mchid_merchant_order_id",
        "uq_orders_transaction_id",
    }
    assert all(
        constraint.name
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
    )
