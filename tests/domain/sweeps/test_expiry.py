"""The expiry sweep against the sandbox: unpaid orders closed at WeChat and here; a payment
found while closing wins; a close WeChat fails is tried again."""

from __future__ import annotations

import asyncio

import pytest

from paydesk.domain.clock import FixedClock
from paydesk.domain.sweeps import EXPIRE_CAUSE, close_expired_orders, query_paying_orders
from paydesk.domain.sweeps.schedule import CLOSE_RETRY
from tests.domain.sweeps.world import (
    WeChatWithout,
    causes,
    drop_notifications,
    fault,
    order_row,
    outbox,
    pay_at_wechat,
    paying_order,
    sandbox,
    wechat_state,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends

TTL = 120  # seconds: the order's expires_in


async def test_an_unpaid_order_is_closed_at_wechat_and_here_once_it_expires(
    world: Stack, clock: FixedClock
) -> None:
    paying = await paying_order(world, expires_in=TTL)
    clock.advance(TTL - 1)
    assert (await close_expired_orders(world.services)).done == 0

    clock.advance(1)
    assert (await close_expired_orders(world.services)).outcomes == {"closed": 1}

    order = await order_row(world, paying.order_id)
    assert (order.state, order.closed_at) == ("CLOSED", clock.now())
    assert (await causes(world, paying.order_id))[-1] == ("PAYING", "CLOSED", EXPIRE_CAUSE)
    assert await outbox(world, paying.order_id) == ["order.closed"]
    assert await wechat_state(world, paying.out_trade_no) == "CLOSED"
    clock.advance(3600)
    assert (await close_expired_orders(world.services)).done == 0


async def test_an_order_never_handed_to_wechat_is_closed_too(
    world: Stack, clock: FixedClock
) -> None:
    order = await world.create_order(expires_in=TTL)
    clock.advance(TTL)
    assert (await close_expired_orders(world.services)).outcomes == {"closed": 1}
    assert (await causes(world, order["id"]))[-1] == ("CREATED", "CLOSED", EXPIRE_CAUSE)


async def test_an_order_paid_just_before_its_expiry_is_paid_not_closed(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world, amount=300, expires_in=TTL)
    clock.advance(TTL - 5)
    await pay_at_wechat(world, paying)  # the notification is lost, the sweep has not looked
    clock.advance(5)

    assert (await query_paying_orders(world.services)).done == 0  # expired: not its job
    assert (await close_expired_orders(world.services)).outcomes == {"paid": 1}

    order = await order_row(world, paying.order_id)
    assert (order.state, order.paid_amount) == ("PAID", 300)
    assert await outbox(world, paying.order_id) == ["order.paid"]


async def test_a_close_wechat_fails_is_tried_again_a_minute_later(
    world: Stack, clock: FixedClock
) -> None:
    paying = await paying_order(world, expires_in=TTL)
    await fault(world, kind="5xx", path_regex="/close$")
    clock.advance(TTL)

    assert (await close_expired_orders(world.services)).outcomes == {"no_answer": 1}
    assert (await order_row(world, paying.order_id)).state == "PAYING"

    await sandbox(world, "DELETE", "/_sandbox/faults")
    clock.advance(CLOSE_RETRY.total_seconds() - 1)
    assert (await close_expired_orders(world.services)).done == 0
    clock.advance(1)
    assert (await close_expired_orders(world.services)).outcomes == {"closed": 1}


async def test_two_sweeps_at_once_close_each_order_once(world: Stack, clock: FixedClock) -> None:
    orders = [await paying_order(world, expires_in=TTL) for _ in range(4)]
    clock.advance(TTL)

    first, second = await asyncio.gather(
        close_expired_orders(world.services), close_expired_orders(world.services)
    )

    assert first.outcomes + second.outcomes == {"closed": 4}
    for paying in orders:
        assert [c for c in await causes(world, paying.order_id) if c[1] == "CLOSED"] == [
            ("PAYING", "CLOSED", EXPIRE_CAUSE)
        ]


async def test_an_order_whose_merchant_left_the_config_is_an_error_for_it_alone(
    world: Stack, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = await paying_order(world, mchid=PUBLIC_KEY_MCHID, expires_in=TTL)
    await paying_order(world, mchid=CERTIFICATE_MCHID, expires_in=TTL)
    monkeypatch.setattr(
        world.services, "wechat", WeChatWithout(world.services.wechat, PUBLIC_KEY_MCHID)
    )
    clock.advance(TTL)

    assert (await close_expired_orders(world.services)).outcomes == {"error": 1, "closed": 1}
    assert (await order_row(world, gone.order_id)).state == "PAYING"
