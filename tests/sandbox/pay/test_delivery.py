"""Notification delivery: the retry schedule on virtual time, re-signing, acknowledgements,
timeouts, connection errors, the dispatcher task, and every notification fault."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paydesk.protocol.errors import SignTestProbe
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.pay.retry import schedule_offsets
from tests.sandbox.signing import native_prepay
from tests.serving import free_port


def _offsets(delivery: Any, kind: str = "real") -> list[float]:
    times = [a.at for a in delivery.attempts if a.kind == kind]
    return [(t - times[0]).total_seconds() for t in times]


async def test_an_unacknowledged_notification_follows_the_whole_schedule(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    receiver.status = 500
    await v3.paid("T_DLV00001")
    await sandbox.pay.drain(5)
    delivery = sandbox.pay.dispatcher.deliveries[0]
    offsets = schedule_offsets()
    for previous, following in itertools.pairwise(offsets):
        sandbox.clock.advance(following - previous - 0.5)
        assert await sandbox.pay.run_due() == 0  # not due yet, half a second early
        sandbox.clock.advance(0.5)
        assert await sandbox.pay.run_due() == 1
    assert delivery.state == "failed"
    assert delivery.due_at is None
    assert _offsets(delivery) == pytest.approx(offsets, abs=1.0)
    sandbox.clock.advance(86400)
    assert await sandbox.pay.run_due() == 0
    assert len(receiver.received) == 16
    # the same event, the same body, re-signed at every attempt with a fresh nonce
    bodies = {r["body"] for r in receiver.received}
    nonces = {r["headers"]["wechatpay-nonce"] for r in receiver.received}
    assert len(bodies) == 1
    assert len(nonces) == 16
    ids = {helpers.open_v3(v3.creds, r).envelope.id for r in receiver.received}
    assert ids == {delivery.event_id}


async def test_acknowledgement_stops_the_retries(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    receiver.status = 503
    await v3.paid("T_DLV00002")
    await sandbox.pay.drain(5)
    receiver.status = 200
    sandbox.clock.advance(15)
    assert await sandbox.pay.run_due() == 1
    delivery = sandbox.pay.dispatcher.deliveries[0]
    assert delivery.state == "delivered"
    assert [a.status for a in delivery.attempts] == [503, 200]
    sandbox.clock.advance(3600)
    assert await sandbox.pay.run_due() == 0
    opened = helpers.open_v3(v3.creds, receiver.received[-1])
    transaction = opened.transaction()
    assert (opened.event_type, opened.envelope.summary) == ("TRANSACTION.SUCCESS", "支付成功")
    assert opened.envelope.resource.associated_data == "transaction"
    assert opened.envelope.create_time.endswith("+08:00")
    assert (transaction.trade_state, transaction.out_trade_no) == ("SUCCESS", "T_DLV00002")


@pytest.mark.parametrize(
    ("status", "acknowledged"), [(200, True), (204, True), (202, False), (400, False)]
)
async def test_v3_acknowledges_with_200_or_204_only(
    v3: Any, sandbox: Any, receiver: Any, status: int, acknowledged: bool
) -> None:
    receiver.status = status
    await v3.paid("T_DLV00003")
    await sandbox.pay.drain(5)
    assert sandbox.pay.dispatcher.deliveries[0].attempts[0].acknowledged is acknowledged


async def test_the_response_excerpt_is_at_most_512_characters(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    receiver.status, receiver.body = 500, b"x" * 2000
    await v3.paid("T_DLV00004")
    await sandbox.pay.drain(5)
    attempt = sandbox.pay.dispatcher.deliveries[0].attempts[0]
    assert attempt.excerpt == "x" * 512
    assert attempt.duration_ms > 0


def _app(handler: Any) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", handler, methods=["POST"])])


@pytest.fixture
async def slow_sandbox(sandbox_credentials: SandboxCredentials) -> AsyncIterator[Sandbox]:
    """A sandbox whose merchant takes half a second to answer."""

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.5)
        return Response(status_code=204)

    box = Sandbox(sandbox_credentials, transport=httpx.ASGITransport(app=_app(slow)), seed=7)
    async with box:
        yield box


async def test_an_answer_after_the_deadline_is_a_failure(
    slow_sandbox: Sandbox, helpers: Any
) -> None:
    world = slow_sandbox.pay
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=slow_sandbox.asgi()), base_url="http://sandbox.test"
    ) as client:
        await client.post("/_sandbox/pay-settings", json={"notify_timeout_seconds": 0.1})
        order = _place(slow_sandbox, "T_DLV00005")
        world.book.mark_paid(order, "oX", world.now())
        world.notify_payment(order)
        await world.drain(5)
    attempt = world.dispatcher.deliveries[0].attempts[0]
    assert attempt.error == "no answer within 0.1 s"
    assert attempt.status is None
    assert world.dispatcher.deliveries[0].state == "pending"


async def test_drain_gives_up_after_its_timeout(slow_sandbox: Sandbox) -> None:
    world = slow_sandbox.pay
    order = _place(slow_sandbox, "T_DLV00006")
    world.book.mark_paid(order, "oX", world.now())
    world.notify_payment(order)
    with pytest.raises(TimeoutError):
        await world.drain(0.05)
    await world.stop()
    delivery = world.dispatcher.deliveries[0]
    assert delivery.in_flight is False
    assert delivery.state == "pending"  # abandoned attempt: still queued


def _place(box: Sandbox, number: str) -> Any:
    from paydesk.sandbox.pay.model import OrderDraft

    draft = OrderDraft(
        api="v3",
        mchid=box.credentials.merchants[0].mchid,
        appid="wx5a0d5a0d00000001",
        out_trade_no=number,
        trade_type="NATIVE",
        description="d",
        total=1,
        notify_url="http://merchant.test/n",
        time_expire=None,
        fingerprint={},
    )
    return box.pay.book.place(draft, box.pay.now())


def test_a_connection_error_is_recorded_and_retried(
    sandbox_server: Any, receiver_server: Any, helpers: Any
) -> None:
    box, server = sandbox_server
    creds = box.credentials.merchants[0]
    with httpx.Client(base_url=server.base_url) as client:
        closed_port = f"http://127.0.0.1:{free_port()}/notify"
        order = _v3_native(client, creds, "T_DLV00007", closed_port)
        client.post("/_sandbox/pay", json={"code_url": order["code_url"]})
        attempts = _wait_for_attempts(client, "T_DLV00007", 1)
    assert attempts[0]["status"] is None
    assert attempts[0]["error"].startswith("ConnectError")


def _v3_native(client: httpx.Client, creds: Any, number: str, notify_url: str) -> dict[str, Any]:
    url, body, headers = native_prepay(creds, number, notify_url)
    result: dict[str, Any] = client.post(url, content=body, headers=headers).json()
    return result


def _wait_for_attempts(client: httpx.Client, number: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        attempts: list[dict[str, Any]] = client.get(
            "/_sandbox/notifications", params={"out_trade_no": number}
        ).json()["attempts"]
        if len(attempts) >= count:
            return attempts
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} attempts for {number}")


def test_over_real_http_the_dispatcher_delivers_by_itself(
    sandbox_server: Any, receiver_server: Any, receiver: Any, helpers: Any
) -> None:
    box, server = sandbox_server
    creds = box.credentials.merchants[0]
    with httpx.Client(base_url=server.base_url) as client:
        order = _v3_native(client, creds, "T_DLV00008", receiver_server.base_url + "/notify")
        client.post("/_sandbox/pay", json={"code_url": order["code_url"]})
        attempts = _wait_for_attempts(client, "T_DLV00008", 1)
    assert attempts[0]["status"] == 204
    assert attempts[0]["acknowledged"] is True
    assert helpers.open_v3(creds, receiver.received[0]).transaction().trade_state == "SUCCESS"


async def test_on_a_fast_clock_the_dispatcher_retries_on_schedule(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    receiver.status = 500
    # 15 virtual seconds = 0.5 wall seconds: the 30 virtual seconds of allowed lateness below
    # are a whole wall second, which a loaded CI machine's loop does not exceed.
    sandbox.clock.set_speed(30)
    await v3.paid("T_DLV00009")
    delivery = sandbox.pay.dispatcher.deliveries[0]
    deadline = time.monotonic() + 10
    while delivery.real_attempts < 4 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls
        await asyncio.sleep(0.01)
    offsets = _offsets(delivery)[:4]
    assert len(offsets) == 4
    for actual, expected in zip(offsets, [0, 15, 30, 60], strict=True):
        assert expected <= actual < expected + 30  # never early; late by loop latency only


async def test_reset_forgets_deliveries(v3: Any, sandbox: Any) -> None:
    await v3.paid("T_DLV00010")
    await sandbox.pay.drain(5)
    await v3.client.post("/_sandbox/reset")
    assert sandbox.pay.dispatcher.deliveries == []
    assert (await v3.query("T_DLV00010")).status_code == 404


# -- notification faults -----------------------------------------------------------------------


async def _fault(v3: Any, **rule: Any) -> None:
    response = await v3.client.post("/_sandbox/faults", json=rule)
    assert response.status_code == 200


async def test_drop_loses_the_attempt_and_the_schedule_carries_on(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    await _fault(v3, kind="drop", times=1)
    await v3.paid("T_DLV00011")
    await sandbox.pay.drain(5)
    delivery = sandbox.pay.dispatcher.deliveries[0]
    assert receiver.received == []
    assert delivery.attempts[0].fault == "drop (fault #1)"
    sandbox.clock.advance(15)
    assert await sandbox.pay.run_due() == 1
    assert len(receiver.received) == 1
    assert delivery.state == "delivered"


async def test_duplicate_sends_the_same_event_twice(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    await _fault(v3, kind="duplicate")
    await v3.paid("T_DLV00012")
    await sandbox.pay.drain(5)
    first, second = (helpers.open_v3(v3.creds, r) for r in receiver.received)
    assert first.envelope.id == second.envelope.id
    assert first.plaintext == second.plaintext
    kinds = [a.kind for a in sandbox.pay.dispatcher.deliveries[0].attempts]
    assert kinds == ["real", "duplicate"]


async def test_delay_holds_a_new_notification_back(v3: Any, sandbox: Any, receiver: Any) -> None:
    await _fault(v3, kind="delay", seconds=120)
    await v3.paid("T_DLV00013")
    await sandbox.pay.drain(5)
    assert receiver.received == []
    sandbox.clock.advance(119)
    assert await sandbox.pay.run_due() == 0
    sandbox.clock.advance(1)
    assert await sandbox.pay.run_due() == 1
    assert "delayed 120 s by fault #1" in sandbox.pay.dispatcher.deliveries[0].notes


async def test_reorder_lets_a_later_notification_overtake(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    await _fault(v3, kind="reorder", times=1)
    await v3.paid("T_DLV00014")
    await sandbox.pay.drain(5)
    assert receiver.received == []
    await v3.paid("T_DLV00015")
    await sandbox.pay.drain(5)
    sandbox.clock.advance(1)
    await sandbox.pay.run_due()
    order = [helpers.open_v3(v3.creds, r).transaction().out_trade_no for r in receiver.received]
    assert order == ["T_DLV00015", "T_DLV00014"]


async def test_a_held_notification_goes_out_after_its_wait_if_nothing_overtakes(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    await _fault(v3, kind="reorder", seconds=30)
    await v3.paid("T_DLV00016")
    sandbox.clock.advance(29)
    assert await sandbox.pay.run_due() == 0
    sandbox.clock.advance(1)
    assert await sandbox.pay.run_due() == 1


async def test_signtest_sends_a_probe_first_and_records_its_answer(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    await _fault(v3, kind="signtest")
    await v3.paid("T_DLV00017")
    await sandbox.pay.drain(5)
    probe, real = receiver.received
    assert probe["headers"]["wechatpay-signature"].startswith("WECHATPAY/SIGNTEST/")
    with pytest.raises(SignTestProbe):
        helpers.open_v3(v3.creds, probe)
    assert helpers.open_v3(v3.creds, real).transaction().trade_state == "SUCCESS"
    attempts = sandbox.pay.dispatcher.deliveries[0].attempts
    assert [(a.kind, a.number, a.status) for a in attempts] == [("probe", 1, 204), ("real", 1, 204)]


async def test_a_notification_fault_can_target_one_notify_path(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    await _fault(v3, kind="drop", path="/elsewhere")
    await v3.paid("T_DLV00018")
    await sandbox.pay.drain(5)
    assert len(receiver.received) == 1


async def test_start_is_idempotent_and_drain_waits_for_the_dispatchers_attempts(
    slow_sandbox: Sandbox,
) -> None:
    world = slow_sandbox.pay
    task = world.dispatcher._loop_task
    await world.start()
    assert world.dispatcher._loop_task is task
    order = _place(slow_sandbox, "T_DLV00019")
    world.book.mark_paid(order, "oX", world.now())
    world.notify_payment(order)
    await asyncio.sleep(0.05)  # the dispatcher task has picked it up and is waiting on the merchant
    assert world.dispatcher.deliveries[0].in_flight
    await world.drain(5)
    assert world.dispatcher.deliveries[0].state == "delivered"
