"""paydesk.domain.push.worker: the work runs after the answer, is retried while failures may
pass, is given up (and logged) when they will not, and leaves ``handled_at`` as the record."""

from __future__ import annotations

import asyncio
import logging

import pytest

from paydesk.domain.push import Detour, PushRuntime, PushSettings, take_push
from paydesk.protocol.messages import PushedMessage
from tests.domain.push.support import PAY_PAGE, new_person, sent_to, stored_pushes
from tests.domain.users.support import add_fault
from tests.stack import MINI_APPID, Stack

pytestmark = pytest.mark.backends

SEND_PATH = "/cgi-bin/message/custom/send"


class Sleeps:
    """A fake ``asyncio.sleep`` that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def taken_card(stack: Stack, *, window_open: bool = True) -> PushedMessage:
    """A card about a new order, from a person who wrote in (or not), taken into the inbox."""
    openid = (await new_person(stack))["openid"]
    if window_open:
        now = stack.sandbox.clock.now()
        stack.sandbox.identity.customer_service.record_interaction(MINI_APPID, openid, now)
    order = await stack.create_order()
    message = PushedMessage(
        to_user="gh_1",
        from_user=openid,
        create_time=1,
        msg_type="miniprogrampage",
        page_path=f"{PAY_PAGE}?order={order['id']}",
        msg_id=openid[-8:],
        raw={"MsgType": "miniprogrampage"},
    )
    assert await take_push(stack.services, MINI_APPID, message)
    return message


def runtime(sleeps: Sleeps) -> PushRuntime:
    return PushRuntime(PushSettings(retry_delays=(1.0, 5.0)), sleep=sleeps)


async def run(stack: Stack, runtime: PushRuntime, message: PushedMessage) -> Detour | None:
    app = stack.services.registry.app(MINI_APPID)
    task = runtime.spawn(stack.services, app, message)
    assert runtime.pending == 1
    await runtime.drain()
    assert runtime.pending == 0
    return task.result()


async def handled(stack: Stack) -> bool:
    [row] = await stored_pushes(stack)
    return row.handled_at is not None


async def test_work_that_succeeds_is_marked_handled(stack: Stack) -> None:
    sleeps = Sleeps()
    message = await taken_card(stack)
    assert await run(stack, runtime(sleeps), message) == Detour.LINK_SENT
    assert sleeps.delays == []
    assert await handled(stack)
    assert [m["msgtype"] for m in await sent_to(stack, message.from_user)] == ["link"]


async def test_a_failure_that_may_pass_is_retried(stack: Stack) -> None:
    await add_fault(stack, kind="5xx", path=SEND_PATH, times=1)
    sleeps = Sleeps()
    message = await taken_card(stack)
    assert await run(stack, runtime(sleeps), message) == Detour.LINK_SENT
    assert sleeps.delays == [1.0]
    assert await handled(stack)
    assert len(await sent_to(stack, message.from_user)) == 1


async def test_after_every_retry_failed_the_push_is_left_unhandled_and_logged(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    await add_fault(stack, kind="5xx", path=SEND_PATH)
    sleeps = Sleeps()
    message = await taken_card(stack)
    with caplog.at_level(logging.WARNING, logger="paydesk.push"):
        assert await run(stack, runtime(sleeps), message) is None
    assert sleeps.delays == [1.0, 5.0]
    assert not await handled(stack)
    assert await sent_to(stack, message.from_user) == []
    levels = [record.levelname for record in caplog.records if record.name == "paydesk.push"]
    assert levels == ["WARNING", "WARNING", "ERROR"]
    assert "failed for good (attempt 3)" in caplog.records[-1].getMessage()


async def test_a_refusal_is_given_up_at_once(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = Sleeps()
    message = await taken_card(stack, window_open=False)  # 45015: retrying cannot help
    with caplog.at_level(logging.ERROR, logger="paydesk.push"):
        assert await run(stack, runtime(sleeps), message) is None
    assert sleeps.delays == []
    assert not await handled(stack)
    assert "failed for good (attempt 1)" in caplog.text


async def test_a_bookkeeping_failure_never_sends_twice(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> None:
        raise ConnectionResetError("database went away")

    monkeypatch.setattr("paydesk.domain.push.worker.mark_handled", broken)
    sleeps = Sleeps()
    message = await taken_card(stack)
    with caplog.at_level(logging.ERROR, logger="paydesk.push"):
        assert await run(stack, runtime(sleeps), message) == Detour.LINK_SENT
    assert len(await sent_to(stack, message.from_user)) == 1
    assert not await handled(stack)
    assert "handled_at was not saved" in caplog.text


async def test_closing_cancels_the_work_in_flight(stack: Stack) -> None:
    waiting = asyncio.Event()

    async def stuck(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()  # a retry delay that never ends

    await add_fault(stack, kind="5xx", path=SEND_PATH)
    runtime = PushRuntime(PushSettings(retry_delays=(1.0,)), sleep=stuck)
    message = await taken_card(stack)
    task = runtime.spawn(stack.services, stack.services.registry.app(MINI_APPID), message)
    await asyncio.wait_for(waiting.wait(), timeout=10)
    await runtime.aclose()
    assert task.cancelled()
    assert runtime.pending == 0
    assert not await handled(stack)


async def test_shutdown_lets_work_in_flight_finish_within_the_grace(stack: Stack) -> None:
    release = asyncio.Event()

    async def short_delay(seconds: float) -> None:
        await release.wait()

    await add_fault(stack, kind="5xx", path=SEND_PATH, times=1)
    runtime = PushRuntime(PushSettings(retry_delays=(1.0,)), sleep=short_delay)
    message = await taken_card(stack)
    task = runtime.spawn(stack.services, stack.services.registry.app(MINI_APPID), message)
    asyncio.get_running_loop().call_later(0.05, release.set)

    await runtime.shutdown(grace_seconds=10)

    assert task.result() == Detour.LINK_SENT
    assert await handled(stack)


async def test_shutdown_cancels_what_outlasts_the_grace_and_leaves_it_for_a_rerun(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    async def stuck(seconds: float) -> None:
        await asyncio.Event().wait()

    await add_fault(stack, kind="5xx", path=SEND_PATH)
    runtime = PushRuntime(PushSettings(retry_delays=(1.0,)), sleep=stuck)
    message = await taken_card(stack)
    task = runtime.spawn(stack.services, stack.services.registry.app(MINI_APPID), message)

    with caplog.at_level(logging.WARNING, logger="paydesk.push"):
        await runtime.shutdown(grace_seconds=0.2)

    assert task.cancelled()
    assert runtime.pending == 0
    assert not await handled(stack)  # rerun_pushes takes it up again
    assert "1 push(es) still working at shutdown: cancelled" in caplog.text
