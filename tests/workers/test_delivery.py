"""Publish and deliver to a receiver (in-process and over HTTP), retries, dead letters, resend."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk import __version__
from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, DeliveryAttempt
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks import ClaimedDelivery, RetryPolicy, resend, rotate_secret
from paydesk.webhooks import compute_signature
from paydesk.workers import DeliveryOptions, JobContext, Worker, deliver_due, delivery_jobs
from paydesk.workers.delivery import post_event, publish
from tests.domain.webhooks.world import T0, new_endpoint, new_event
from tests.workers.receiver import Receiver, serve

pytestmark = pytest.mark.backends

HOOK_URL = "http://merchant.test/hooks/paydesk"
NO_JITTER = DeliveryOptions(policy=RetryPolicy(jitter=0.0))


def context(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource, http: httpx.AsyncClient
) -> JobContext:
    return JobContext(db=db, clock=clock, ids=ids, http=http, rng=random.Random(7))


def in_process(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))  # type: ignore[arg-type]


def unix(clock: FixedClock) -> int:
    return int(clock.now().timestamp())


async def deliveries(db: async_sessionmaker[AsyncSession]) -> list[Delivery]:
    async with db() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def attempts(db: async_sessionmaker[AsyncSession]) -> list[DeliveryAttempt]:
    async with db() as session:
        query = select(DeliveryAttempt).order_by(DeliveryAttempt.id)
        return list((await session.scalars(query)).all())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_publish_then_deliver_in_process(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource
) -> None:
    _, secret = await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    receiver = Receiver(secret=secret, now=lambda: unix(clock))
    event = await new_event(db, ids=ids, clock=clock, data={"order_id": "ord_1", "amount": 100})
    async with in_process(receiver) as client:
        worker = Worker(delivery_jobs(context(db, clock, ids, client)), idle_sleep=0)
        assert await worker.run_until_idle() == {"publish": 1, "deliver": 1}
    [request] = receiver.received
    assert request.event == {
        "id": event,
        "type": "order.paid",
        "created": unix(clock),
        "data": {"order_id": "ord_1", "amount": 100},
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"paydesk-webhooks/{__version__}"
    assert request.headers["paydesk-event-id"] == event
    assert request.headers["paydesk-signature"] == (
        f"t={unix(clock)},v1={compute_signature(request.body, secret, unix(clock))}"
    )
    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.DELIVERED,
        1,
        200,
    )
    [attempt] = await attempts(db)
    assert (attempt.status_code, attempt.response_excerpt, attempt.error) == (200, "ok", None)
    assert attempt.duration_ms >= 0


async def test_deliver_over_real_http(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource, http: httpx.AsyncClient
) -> None:
    receiver = Receiver(secret="", now=lambda: unix(clock), response_body=b"x" * 5000)
    with serve(receiver) as base_url:
        endpoint, secret = await new_endpoint(db, ids=ids, clock=clock, url=f"{base_url}/hooks")
        receiver.secret = secret
        events = [await new_event(db, ids=ids, clock=clock) for _ in range(3)]
        worker = Worker(delivery_jobs(context(db, clock, ids, http)), idle_sleep=0)
        assert await worker.run_until_idle() == {"publish": 3, "deliver": 3}
    assert sorted(r.event_id for r in receiver.received) == sorted(events)
    assert all(r.event is not None for r in receiver.received)
    assert {d.state for d in await deliveries(db)} == {DeliveryState.DELIVERED}
    assert {a.response_excerpt for a in await attempts(db)} == {"x" * 1024}
    assert endpoint.startswith("whe_")


async def test_retries_follow_the_backoff_on_a_fake_clock(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource
) -> None:
    _, secret = await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    receiver = Receiver(secret=secret, now=lambda: unix(clock), statuses=[500, 503])
    event = await new_event(db, ids=ids, clock=clock)
    async with in_process(receiver) as client:
        ctx = context(db, clock, ids, client)
        assert await publish(ctx, NO_JITTER) == 1
        assert await deliver_due(ctx, NO_JITTER) == 1  # T0: 500
        assert await deliver_due(ctx, NO_JITTER) == 0
        clock.advance(9)
        assert await deliver_due(ctx, NO_JITTER) == 0  # 10 s after try 1: not yet
        clock.advance(1)
        assert await deliver_due(ctx, NO_JITTER) == 1  # T0 + 10: 503
        clock.advance(19)
        assert await deliver_due(ctx, NO_JITTER) == 0  # 20 s after try 2: not yet
        clock.advance(1)
        assert await deliver_due(ctx, NO_JITTER) == 1  # T0 + 30: 200
    assert [(a.status_code, a.attempted_at) for a in await attempts(db)] == [
        (500, T0),
        (503, T0 + timedelta(seconds=10)),
        (200, T0 + timedelta(seconds=30)),
    ]
    assert [r.event_id for r in receiver.received] == [event] * 3
    assert len({r.body for r in receiver.received}) == 1  # the same bytes every time
    assert [r.headers["paydesk-signature"].split(",")[0] for r in receiver.received] == [
        f"t={unix(clock) - 30}",
        f"t={unix(clock) - 20}",
        f"t={unix(clock)}",
    ]  # but signed afresh for each try
    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 3)


async def test_dead_letter_after_24_hours_then_resend(
    db: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    ids: IdSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, secret = await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    receiver = Receiver(secret=secret, now=lambda: unix(clock), statuses=[500] * 1000)
    event = await new_event(db, ids=ids, clock=clock)
    async with in_process(receiver) as client:
        ctx = context(db, clock, ids, client)
        await publish(ctx)
        while True:
            assert await deliver_due(ctx) == 1
            [delivery] = await deliveries(db)
            if delivery.state is DeliveryState.DEAD:
                break
            clock.advance((delivery.next_attempt_at - clock.now()).total_seconds())
        logged = await attempts(db)
        assert clock.now() == T0 + timedelta(hours=24)  # the last try is at the 24 h mark
        assert logged[-1].attempted_at == T0 + timedelta(hours=24)
        assert len(logged) == delivery.attempts == len(receiver.received)
        assert 30 <= len(logged) <= 40  # 9 doublings from 10 s, then about hourly
        assert any("is dead after" in r.getMessage() for r in caplog.records)
        clock.advance(3600)
        assert await deliver_due(ctx) == 0  # dead stays dead

        receiver.statuses = []
        async with db.begin() as session:
            await resend(session, event, ids=ids, now=clock.now())
        assert await deliver_due(ctx) == 1
    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 1)
    assert receiver.received[-1].event_id == event
    assert receiver.received[-1].event is not None
    assert receiver.received[-1].event["id"] == event


async def test_rotation_signs_with_both_secrets(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource
) -> None:
    endpoint, old = await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    async with db.begin() as session:
        new = await rotate_secret(session, endpoint, ids=ids)
    on_old = Receiver(secret=old, now=lambda: unix(clock))
    await new_event(db, ids=ids, clock=clock)
    async with in_process(on_old) as client:
        await Worker(delivery_jobs(context(db, clock, ids, client)), idle_sleep=0).run_until_idle()
    [request] = on_old.received
    assert request.event is not None  # a receiver not yet moved over still accepts it
    t = unix(clock)
    assert request.headers["paydesk-signature"] == (
        f"t={t},v1={compute_signature(request.body, new, t)},"
        f"v1={compute_signature(request.body, old, t)}"
    )


async def test_concurrent_runs_never_send_one_delivery_twice(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource
) -> None:
    _, secret = await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    receiver = Receiver(secret=secret, now=lambda: unix(clock), delay=0.02)
    events = [await new_event(db, ids=ids, clock=clock) for _ in range(24)]
    options = DeliveryOptions(batch_size=3)
    async with in_process(receiver) as client:
        await publish(context(db, clock, ids, client))

        async def drain(seed: int) -> int:
            ctx = JobContext(db=db, clock=clock, ids=ids, http=client, rng=random.Random(seed))
            sent = 0
            while done := await deliver_due(ctx, options):
                sent += done
            return sent

        first, second = await asyncio.gather(drain(1), drain(2))
    assert first + second == 24
    assert first > 0  # both really took part
    assert second > 0
    assert sorted(r.event_id for r in receiver.received) == sorted(events)  # each exactly once
    assert receiver.most_in_flight_per_event == 1
    assert {d.state for d in await deliveries(db)} == {DeliveryState.DELIVERED}


async def test_a_failure_to_record_leaves_the_batch_to_its_leases(
    db: async_sessionmaker[AsyncSession], clock: FixedClock, ids: IdSource
) -> None:
    await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    for _ in range(2):
        await new_event(db, ids=ids, clock=clock)
    vanished: list[str] = []

    async def vanish_once(request: httpx.Request) -> httpx.Response:
        # Someone deletes one delivery while the requests are out: recording the batch fails.
        if not vanished:
            vanished.append(request.headers["paydesk-event-id"])
            async with db.begin() as session:
                await session.execute(delete(Delivery).where(Delivery.event_id == vanished[0]))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(vanish_once)) as client:
        ctx = context(db, clock, ids, client)
        await publish(ctx)
        with pytest.raises(IntegrityError):
            await deliver_due(ctx)
        [survivor] = await deliveries(db)
        assert (survivor.state, survivor.attempts) == (DeliveryState.PENDING, 0)
        assert survivor.locked_until == T0 + DeliveryOptions().lease  # nothing was recorded
        assert await attempts(db) == []
        assert await deliver_due(ctx) == 0
        clock.advance(DeliveryOptions().lease.total_seconds())  # the lease runs out: again
        assert await deliver_due(ctx) == 1
    [survivor] = await deliveries(db)
    assert (survivor.state, survivor.attempts) == (DeliveryState.DELIVERED, 1)


async def test_a_lease_lost_mid_request_leaves_the_delivery_to_its_new_owner(
    db: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    ids: IdSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await new_endpoint(db, ids=ids, clock=clock, url=HOOK_URL)
    await new_event(db, ids=ids, clock=clock)
    other_lease = T0 + timedelta(minutes=5)

    async def reclaimed_meanwhile(request: httpx.Request) -> httpx.Response:
        async with db.begin() as session:  # as if another worker had claimed it in between
            await session.execute(update(Delivery).values(locked_until=other_lease))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(reclaimed_meanwhile)) as client:
        ctx = context(db, clock, ids, client)
        await publish(ctx)
        assert await deliver_due(ctx) == 1
    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.locked_until, delivery.attempts) == (
        DeliveryState.PENDING,
        other_lease,
        0,
    )
    assert [a.status_code for a in await attempts(db)] == [200]  # the try is still logged
    assert any("lease lost" in r.getMessage() for r in caplog.records)


class TestPostEvent:
    """Every way a request can end becomes an outcome; nothing raises."""

    CLAIMED = ClaimedDelivery(
        delivery_id="dlv_1",
        event_id="evt_1",
        endpoint_id="whe_1",
        url=HOOK_URL,
        secrets=("whsec_a",),
        body=json.dumps({"id": "evt_1"}).encode(),
        attempt=1,
        window_start=T0,
        lease=T0,
    )

    async def test_connection_refused(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
            outcome = await post_event(client, self.CLAIMED, timestamp=1, time_limit=1)
        assert (outcome.status_code, outcome.error) == (None, "ConnectError: connection refused")
        assert not outcome.succeeded

    async def test_an_error_without_a_message_is_named(self) -> None:
        def fail(request: httpx.Request) -> httpx.Response:
            raise httpx.RemoteProtocolError("", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
            outcome = await post_event(client, self.CLAIMED, timestamp=1, time_limit=1)
        assert outcome.error == "RemoteProtocolError"

    async def test_a_slow_endpoint_times_out_as_a_whole(self) -> None:
        async def slow(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(5)
            return httpx.Response(200)

        async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
            outcome = await post_event(client, self.CLAIMED, timestamp=1, time_limit=0.05)
        assert (outcome.status_code, outcome.error) == (None, "timed out after 0.05 s")
        assert 40 <= outcome.duration_ms < 2000

    @pytest.mark.parametrize("url", ["ftp://merchant.test/hooks", "http://"])
    async def test_an_unusable_url(self, url: str, http: httpx.AsyncClient) -> None:
        claimed = ClaimedDelivery(**{**self.CLAIMED.__dict__, "url": url})
        outcome = await post_event(http, claimed, timestamp=1, time_limit=1)
        assert outcome.status_code is None
        assert outcome.error is not None

    async def test_redirects_are_not_followed(self, http: httpx.AsyncClient) -> None:
        def redirect(request: httpx.Request) -> httpx.Response:
            return httpx.Response(302, headers={"Location": "https://elsewhere.test/"})

        async with httpx.AsyncClient(transport=httpx.MockTransport(redirect)) as client:
            outcome = await post_event(client, self.CLAIMED, timestamp=1, time_limit=1)
        assert (outcome.status_code, outcome.succeeded) == (302, False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease": timedelta(seconds=10), "timeout": 10.0}, "must outlast"),
        ({"timeout": 0.0}, "positive"),
        ({"batch_size": 0}, "at least 1"),
        ({"publish_batch_size": 0}, "at least 1"),
    ],
)
def test_delivery_options_refuse_nonsense(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeliveryOptions(**kwargs)  # type: ignore[arg-type]
