"""``start_payment``: the order and its attempts in one read, the attempt and CREATED → PAYING in
one write (the compare-and-set checks the order read just before), WeChat's answer in another."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from paydesk.db.enums import OrderState, PaymentChannel
from paydesk.db.models import Order, OrderEvent, Payment
from paydesk.domain.errors import NotFound
from paydesk.domain.payments import remote
from paydesk.domain.payments.prepay import PREPAY_TTL, Payer, start_payment
from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack

PAYER = Payer(appid=MINI_APPID, openid="oPayerOpenid00000000000000000")


async def paying_events(stack: Stack, order_id: str) -> list[str]:
    async with stack.services.db() as session:
        events = await session.scalars(
            select(OrderEvent.cause).where(
                OrderEvent.order_id == order_id, OrderEvent.to_state == OrderState.PAYING.value
            )
        )
        return list(events)


@pytest.mark.backends
async def test_a_first_payment_records_the_attempt_moves_the_order_and_stores_the_prepay(
    stack: Stack,
) -> None:
    order = await stack.create_order()

    start = await start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, PAYER)

    async with stack.services.db() as session:
        stored = await session.get(Payment, start.payment.id)
        moved = await session.get(Order, order["id"])
    assert stored is not None
    assert moved is not None
    assert start.reused is False
    assert start.payment.prepay_id is not None
    assert stored.prepay_id == start.payment.prepay_id
    assert stored.expires_at == start.payment.expires_at
    assert start.payment.expires_at <= stack.services.clock.now() + PREPAY_TTL
    assert (moved.state, moved.version) == (OrderState.PAYING, 1)
    assert await paying_events(stack, order["id"]) == ["pay.miniprogram"]


@pytest.mark.backends
async def test_paying_again_reuses_the_prepay_without_moving_the_order_again(
    stack: Stack,
) -> None:
    order = await stack.create_order()
    first = await start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, PAYER)

    again = await start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, PAYER)

    assert again.reused is True
    assert again.payment.id == first.payment.id
    assert await paying_events(stack, order["id"]) == ["pay.miniprogram"]


@pytest.mark.backends
async def test_two_payments_started_at_once_share_one_attempt_and_one_move(stack: Stack) -> None:
    # Both read the order CREATED; the second waits for the first's write (SQLite: its turn;
    # PostgreSQL: the order's row lock), then reuses its attempt and does not move the order.
    order = await stack.create_order()

    starts = await asyncio.gather(
        start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, PAYER),
        start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, PAYER),
    )

    assert starts[0].payment.id == starts[1].payment.id
    assert await paying_events(stack, order["id"]) == ["pay.miniprogram"]


@pytest.mark.backends
async def test_an_unknown_order_or_another_merchants_is_not_found(stack: Stack) -> None:
    order = await stack.create_order(mchid=CERTIFICATE_MCHID)

    with pytest.raises(NotFound):
        await start_payment(stack.services, "ord_missing", PaymentChannel.MINIPROGRAM, PAYER)
    with pytest.raises(NotFound):
        await start_payment(
            stack.services,
            order["id"],
            PaymentChannel.NATIVE,
            Payer(appid=MINI_APPID),
            mchid=PUBLIC_KEY_MCHID,
        )


@pytest.mark.backends
async def test_switching_payers_closes_the_old_attempt_and_keeps_what_changed_on_it_meanwhile(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old attempt was read before WeChat was asked to close it; a query that recorded its
    # trade_state in the meantime must survive: only closed_at is written.
    order = await stack.create_order()
    first = await start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, PAYER)
    closing = remote.close

    async def close_while_a_query_writes(services: Any, payment: Payment) -> Any:
        async with services.db.begin() as session:
            stored = await session.get(Payment, payment.id)
            stored.trade_state = "NOTPAY"
        return await closing(services, payment)

    monkeypatch.setattr(remote, "close", close_while_a_query_writes)
    other = Payer(appid=MINI_APPID, openid="oAnotherPayer000000000000000")
    second = await start_payment(stack.services, order["id"], PaymentChannel.MINIPROGRAM, other)

    async with stack.services.db() as session:
        old = await session.get(Payment, first.payment.id)
    assert old is not None
    assert second.payment.id != first.payment.id
    assert old.closed_at is not None
    assert old.trade_state == "NOTPAY"
