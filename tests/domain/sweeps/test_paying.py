"""The PAYING sweep against the sandbox: a lost notification is made good by a query, on the
backoff, and a query that fails is simply tried again later."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from paydesk.db.models import Order
from paydesk.domain.clock import FixedClock
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.sweeps import QUERY_CAUSE, claim_paying, query_paying_orders
from paydesk.domain.sweeps.paying import _query
from tests.domain.sweeps.world import (
    WeChatWithout,
    anomalies,
    causes,
    drop_notifications,
    fault,
    order_row,
    outbox,
    pay_at_wechat,
    paying_order,
    sandbox,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


async def test_a_payment_whose_notification_was_lost_is_found_by_the_sweep(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world, amount=250)
    paid = await pay_at_wechat(world, paying)

    assert (await query_paying_orders(world.services)).done == 0  # too early: 10 s first
    clock.advance(10)
    round_ = await query_paying_orders(world.services)

    assert round_.outcomes == {"paid": 1}
    order = await order_row(world, paying.order_id)
    assert (order.state, order.paid_amount) == ("PAID", 250)
    assert order.transaction_id == paid["transaction_id"]
    assert (await causes(world, paying.order_id))[-1] == ("PAYING", "PAID", QUERY_CAUSE)
    assert await outbox(world, paying.order_id) == ["order.paid"]
    clock.advance(3600)
    assert (await query_paying_orders(world.services)).done == 0  # PAID: never again


async def test_an_unpaid_order_is_queried_on_the_backoff_until_it_is_paid(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world)
    looks: list[dict[str, int]] = []
    # Seconds since the prepay: looks at 10, then 20 and 40 s after each previous look.
    for step in (9, 1, 19, 1, 39, 1):
        clock.advance(step)
        looks.append(dict((await query_paying_orders(world.services)).outcomes))

    assert looks == [{}, {"not_paid": 1}, {}, {"not_paid": 1}, {}, {"not_paid": 1}]
    order = await order_row(world, paying.order_id)
    assert (order.state, order.check_attempts) == ("PAYING", 3)

    await pay_at_wechat(world, paying)
    clock.advance(80)
    assert (await query_paying_orders(world.services)).outcomes == {"paid": 1}


async def test_a_query_wechat_fails_is_tried_again_at_the_next_look(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world)
    await pay_at_wechat(world, paying)
    failing = await fault(world, kind="5xx", path="/v3/pay/transactions/out-trade-no/")
    clock.advance(10)

    assert (await query_paying_orders(world.services)).outcomes == {"no_answer": 1}
    assert (await order_row(world, paying.order_id)).state == "PAYING"

    await sandbox(world, "DELETE", f"/_sandbox/faults?id={failing}")  # notifications still lost
    clock.advance(20)
    assert (await query_paying_orders(world.services)).outcomes == {"paid": 1}


async def test_a_notification_that_wins_the_race_with_the_query_is_not_applied_twice(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world, amount=70)
    await pay_at_wechat(world, paying)
    clock.advance(10)
    async with world.services.db.begin() as session:
        (claimed,) = await claim_paying(session, now=clock.now(), limit=10)
    await sync_order(world.services, paying.order_id)  # e.g. ?sync=true, after the claim

    assert await _query(world.services, claimed) == "already_paid"
    assert [c for c in await causes(world, paying.order_id) if c[1] == "PAID"] == [
        ("PAYING", "PAID", "query")
    ]


async def test_an_order_paid_by_notification_meanwhile_is_not_queried(
    world: Stack, clock: FixedClock
) -> None:
    paying = await paying_order(world)
    await pay_at_wechat(world, paying)
    await world.sandbox.pay.drain()  # the notification arrives: PAID

    clock.advance(60)

    assert (await query_paying_orders(world.services)).done == 0
    assert (await order_row(world, paying.order_id)).state == "PAID"


async def test_a_payment_that_contradicts_the_order_is_an_anomaly_not_a_payment(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world, amount=100)
    await pay_at_wechat(world, paying)
    async with world.services.db.begin() as session:
        await session.execute(update(Order).where(Order.id == paying.order_id).values(amount=99))
    clock.advance(10)

    assert (await query_paying_orders(world.services)).outcomes == {"anomaly": 1}
    assert await anomalies(world, paying.order_id) == ["amount_mismatch"]
    assert (await order_row(world, paying.order_id)).state == "PAYING"


async def test_an_order_whose_merchant_left_the_config_is_an_error_for_it_alone(
    world: Stack, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = await paying_order(world, mchid=PUBLIC_KEY_MCHID)
    await paying_order(world, mchid=CERTIFICATE_MCHID)
    monkeypatch.setattr(
        world.services, "wechat", WeChatWithout(world.services.wechat, PUBLIC_KEY_MCHID)
    )
    clock.advance(10)

    assert (await query_paying_orders(world.services)).outcomes == {"error": 1, "not_paid": 1}
    assert (await order_row(world, gone.order_id)).state == "PAYING"
