"""Automatic refunds: a payment for a closed order, or a second payment of a paid order, is given
back in full — that attempt's transaction, not the order's — when the merchant says so."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Payment
from paydesk.domain.clock import FixedClock
from paydesk.domain.orders.states import transition
from paydesk.domain.payments import remote
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.refunds import request_refund
from paydesk.domain.sweeps import automatic_out_refund_no, refund_anomalous_payments
from paydesk.domain.sweeps.anomaly_refunds import (
    AUTO_REFUND_CAUSE,
    _refund,
    find_anomalous_payments,
)
from tests.domain.sweeps.world import (
    Paying,
    WeChatWithout,
    anomalies,
    auto_refund,
    causes,
    drop_notifications,
    order_row,
    outbox,
    pay_at_wechat,
    paying_order,
    refunds_of,
    sandbox,
)
from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends

REFUND_DELAY = 6  # the sandbox settles a refund 5 virtual seconds after accepting it


async def close_here_only(stack: Stack, order_id: str) -> None:
    """Close the order in our books without WeChat, as a close racing the payment would."""
    now = stack.services.clock.now()
    async with stack.services.db.begin() as session:
        await session.execute(
            update(Payment).where(Payment.order_id == order_id).values(closed_at=now)
        )
        await transition(
            session,
            order_id=order_id,
            to=OrderState.CLOSED,
            cause="test.close",
            now=now,
            ids=stack.services.ids,
        )


async def paid_after_close(stack: Stack, amount: int = 100) -> Paying:
    """An order CLOSED here whose attempt WeChat took the money for: the anomaly."""
    await drop_notifications(stack)
    paying = await paying_order(stack, amount=amount)
    await pay_at_wechat(stack, paying)
    await close_here_only(stack, paying.order_id)
    await sync_order(stack.services, paying.order_id)  # WeChat's word: SUCCESS → anomaly
    await sandbox(stack, "DELETE", "/_sandbox/faults")
    assert await anomalies(stack, paying.order_id) == ["paid_after_close"]
    return paying


async def second_attempt_paid(stack: Stack, paying: Paying) -> str:
    """A second trade number for a paid order, paid at WeChat too; returns it."""
    order = await order_row(stack, paying.order_id)
    number = f"{order.out_trade_no[:30]}-2"
    ask = remote.PrepayAsk(
        order, PaymentChannel.NATIVE, ApiVersion.V3, MINI_APPID, number, None, None, "Wap"
    )
    answer = await remote.prepay(stack.services, ask)
    now = stack.services.clock.now()
    async with stack.services.db.begin() as session:
        session.add(
            Payment(
                id=stack.services.ids.new("pay"),
                order_id=order.id,
                out_trade_no=number,
                channel=PaymentChannel.NATIVE,
                api_version=ApiVersion.V3,
                appid=MINI_APPID,
                mchid=order.mchid,
                params_hash="2" * 64,
                code_url=answer.code_url,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    assert answer.code_url is not None
    await pay_at_wechat(stack, Paying(order.id, number, answer.code_url))
    await stack.sandbox.pay.drain()  # its notification: settle says double_payment
    return number


async def settle_at_wechat(stack: Stack, clock: FixedClock) -> None:
    clock.advance(REFUND_DELAY)
    await stack.sandbox.pay.drain()


async def test_a_payment_for_a_closed_order_is_refunded_in_full(
    world: Stack, clock: FixedClock
) -> None:
    auto_refund(world, PUBLIC_KEY_MCHID)
    paying = await paid_after_close(world, amount=420)

    round_ = await refund_anomalous_payments(world.services)

    assert round_.outcomes == {"changed": 1}  # accepted by WeChat: PROCESSING
    (refund,) = await refunds_of(world, paying.order_id)
    assert (refund.amount, refund.state, refund.out_refund_no) == (
        420,
        "PROCESSING",
        automatic_out_refund_no(paying.out_trade_no),
    )
    assert refund.payment_id is not None
    assert (None, "PENDING", AUTO_REFUND_CAUSE) in await causes(world, paying.order_id)
    at_wechat = world.sandbox.pay.book.find_refunds(refund.out_refund_no)
    assert [(r.out_trade_no, r.refund) for r in at_wechat] == [(paying.out_trade_no, 420)]

    await settle_at_wechat(world, clock)

    (refund,) = await refunds_of(world, paying.order_id)
    assert refund.state == "SUCCESS"
    order = await order_row(world, paying.order_id)
    assert (order.state, order.refunded_amount) == ("CLOSED", 0)  # the order is not moved
    assert await outbox(world, paying.order_id) == [
        "anomaly.created",
        "order.closed",
        "refund.succeeded",
    ]
    assert (await refund_anomalous_payments(world.services)).done == 0  # once only


async def test_a_second_payment_is_refunded_and_the_order_keeps_its_own(
    world: Stack, clock: FixedClock
) -> None:
    auto_refund(world, PUBLIC_KEY_MCHID)
    paying = await paying_order(world, amount=150)
    await pay_at_wechat(world, paying)
    await world.sandbox.pay.drain()
    second = await second_attempt_paid(world, paying)
    assert await anomalies(world, paying.order_id) == ["double_payment"]

    assert (await refund_anomalous_payments(world.services)).outcomes == {"changed": 1}
    await settle_at_wechat(world, clock)

    (refund,) = await refunds_of(world, paying.order_id)
    assert (refund.state, refund.out_refund_no) == ("SUCCESS", automatic_out_refund_no(second))
    order = await order_row(world, paying.order_id)
    assert (order.state, order.refunded_amount, order.paid_amount) == ("PAID", 0, 150)
    # The order's own payment can still be refunded in full by the merchant.
    own = await request_refund(world.services, paying.order_id, amount=150)
    assert own.state == "PROCESSING"
    await settle_at_wechat(world, clock)
    assert (await order_row(world, paying.order_id)).state == "REFUNDED"


async def test_a_merchant_without_auto_refund_keeps_the_anomaly_for_a_person(
    world: Stack, clock: FixedClock
) -> None:
    auto_refund(world, CERTIFICATE_MCHID)  # another merchant only
    paying = await paid_after_close(world)

    assert (await refund_anomalous_payments(world.services)).done == 0
    assert await refunds_of(world, paying.order_id) == []


async def test_two_sweeps_at_once_refund_the_payment_once(world: Stack, clock: FixedClock) -> None:
    auto_refund(world, PUBLIC_KEY_MCHID)
    paying = await paid_after_close(world)

    first, second = await asyncio.gather(
        refund_anomalous_payments(world.services), refund_anomalous_payments(world.services)
    )

    assert (first.outcomes + second.outcomes)["changed"] == 1
    assert len(await refunds_of(world, paying.order_id)) == 1
    assert (
        len(world.sandbox.pay.book.find_refunds(automatic_out_refund_no(paying.out_trade_no))) == 1
    )


async def test_a_lost_answer_leaves_the_refund_to_the_retry_sweep_under_the_same_number(
    world: Stack, clock: FixedClock
) -> None:
    auto_refund(world, PUBLIC_KEY_MCHID)
    paying = await paid_after_close(world)
    await sandbox(
        world, "POST", "/_sandbox/faults", {"kind": "5xx", "path": "/v3/refund/", "times": 4}
    )

    assert (await refund_anomalous_payments(world.services)).outcomes == {"no_answer": 1}
    (refund,) = await refunds_of(world, paying.order_id)
    assert refund.state == "PENDING"
    assert (await refund_anomalous_payments(world.services)).done == 0  # it exists: not again


async def test_a_refund_already_opened_by_another_worker_is_left_to_it(
    world: Stack, clock: FixedClock
) -> None:
    auto_refund(world, PUBLIC_KEY_MCHID)
    paying = await paid_after_close(world)
    (found,) = await find_anomalous_payments(world.services, mchids=[PUBLIC_KEY_MCHID], limit=5)
    assert found.anomaly == "paid_after_close"

    assert await _refund(world.services, found) in ("changed", "no_answer")
    assert await _refund(world.services, found) == "taken"  # the same payment, found twice
    assert len(await refunds_of(world, paying.order_id)) == 1


async def test_a_merchant_that_left_the_config_is_an_error_and_the_refund_waits(
    world: Stack, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto_refund(world, PUBLIC_KEY_MCHID)
    paying = await paid_after_close(world)
    monkeypatch.setattr(
        world.services, "wechat", WeChatWithout(world.services.wechat, PUBLIC_KEY_MCHID)
    )

    assert (await refund_anomalous_payments(world.services)).outcomes == {"error": 1}
    (refund,) = await refunds_of(world, paying.order_id)
    assert refund.state == "PENDING"  # for retry_pending_refunds, under the same number
