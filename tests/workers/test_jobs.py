"""The worker's job list: webhooks then sweeps, run together over one stack; the in-process
worker of ``paydesk serve``."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from paydesk.db.enums import RefundState
from paydesk.domain.clock import FixedClock
from paydesk.domain.refunds import request_refund
from paydesk.domain.webhooks import add_endpoint
from paydesk.settings import Settings
from paydesk.workers import JobContext, Worker
from paydesk.workers.jobs import (
    JOB_NAMES,
    SweepOptions,
    background_jobs,
    in_process_worker,
    sweep_jobs,
    worker_jobs,
)
from tests.domain.sweeps.world import (
    drop_notifications,
    fault,
    order_row,
    pay_at_wechat,
    paying_order,
)
from tests.stack import Stack
from tests.workers.receiver import Receiver

pytestmark = pytest.mark.backends

HOOK_URL = "http://merchant.test/hooks"


@pytest.fixture
def clock() -> FixedClock:
    # Today: the sandbox's certificates are valid from the moment they were made.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


def context(stack: Stack, http: httpx.AsyncClient) -> JobContext:
    services = stack.services
    return JobContext(
        db=services.db, clock=services.clock, ids=services.ids, http=http, rng=random.Random(1)
    )


async def endpoint(stack: Stack, mchid: str) -> str:
    async with stack.services.db.begin() as session:
        _, secret = await add_endpoint(
            session,
            mchid=mchid,
            url=HOOK_URL,
            ids=stack.services.ids,
            now=stack.services.clock.now(),
        )
    return secret


async def test_the_jobs_are_webhooks_then_sweeps(world: Stack) -> None:
    async with httpx.AsyncClient() as http:
        jobs = worker_jobs(world.services, context(world, http))
    assert tuple(job.name for job in jobs) == JOB_NAMES


async def test_a_lost_notification_reaches_the_merchant_through_one_worker(
    world: Stack, clock: FixedClock
) -> None:
    await drop_notifications(world)
    paying = await paying_order(world, amount=66)
    order = await order_row(world, paying.order_id)
    receiver = Receiver(
        secret=await endpoint(world, order.mchid), now=lambda: int(clock.now().timestamp())
    )
    await pay_at_wechat(world, paying)
    clock.advance(10)

    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport) as http:
        worker = Worker(worker_jobs(world.services, context(world, http)), idle_sleep=0)
        done = await worker.run_until_idle()

    assert done["query_paying"] == 1
    assert done["publish"] == done["deliver"] == 1  # published in the round after the sweep
    [request] = receiver.received
    assert request.event is not None
    assert (request.event["type"], request.event["data"]["amount"]) == ("order.paid", 66)
    assert request.event["data"]["id"] == paying.order_id


async def test_the_sweep_jobs_count_what_they_handled(world: Stack, clock: FixedClock) -> None:
    expiring = await world.create_order(expires_in=60)
    paid = await paying_order(world, amount=40)
    await pay_at_wechat(world, paid)
    await world.sandbox.pay.drain()
    await fault(world, kind="5xx", path="/v3/refund/", times=4)
    refund = await request_refund(world.services, paid.order_id, amount=40)
    assert refund.state == RefundState.PENDING  # WeChat failed: the retry sweep's
    await fault(world, kind="drop", path="/api/v1/notify/")
    clock.advance(61)

    jobs = {job.name: job for job in sweep_jobs(world.services)}
    assert await jobs["close_expired"].run() == 1
    assert await jobs["query_paying"].run() == 0
    assert await jobs["auto_refund"].run() == 0  # no merchant asked for it
    assert await jobs["retry_refunds"].run() == 1
    assert (await order_row(world, expiring["id"])).state == "CLOSED"


def test_sweep_options_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="refund_batch_size"):
        SweepOptions(refund_batch_size=0)
    with pytest.raises(ValueError, match="refund_base_delay"):
        SweepOptions(refund_base_delay=timedelta(seconds=-1))


def test_serve_runs_the_worker_unless_told_not_to() -> None:
    assert background_jobs(Settings()) == [in_process_worker]
    assert background_jobs(Settings(run_worker_in_process=False)) == []


async def test_the_in_process_worker_works_until_cancelled(world: Stack, clock: FixedClock) -> None:
    order = await world.create_order(expires_in=60)
    clock.advance(60)

    task = asyncio.create_task(in_process_worker(world.services, idle_sleep=0.02))
    try:
        for _ in range(250):
            if (await order_row(world, order["id"])).state == "CLOSED":
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (await order_row(world, order["id"])).state == "CLOSED"
