"""InFlight: answer at the deadline, finish late work, and never wait forever at shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from paydesk.api.deadline import InFlight


async def test_work_done_in_time_is_returned_finished() -> None:
    in_flight = InFlight()
    task = await in_flight.within_deadline(asyncio.sleep(0, "done"), seconds=1, what="test")
    assert task is not None
    assert task.result() == "done"
    assert len(in_flight) == 0


async def test_late_work_goes_on_and_finish_waits_for_it() -> None:
    in_flight = InFlight()
    finished = []

    async def slow() -> None:
        await asyncio.sleep(0.2)
        finished.append(True)

    assert await in_flight.within_deadline(slow(), seconds=0.01, what="test") is None
    assert (finished, len(in_flight)) == ([], 1)
    await in_flight.finish(grace_seconds=5)
    assert (finished, len(in_flight)) == ([True], 0)


async def test_stuck_work_is_cancelled_after_the_grace_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    in_flight = InFlight()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()  # a database that stopped answering
        finally:
            cancelled.set()

    assert await in_flight.within_deadline(stuck(), seconds=0.01, what="test") is None
    loop = asyncio.get_running_loop()
    started = loop.time()
    await in_flight.finish(grace_seconds=0.1)
    assert cancelled.is_set()
    assert loop.time() - started < 2
    assert len(in_flight) == 0
    assert "cancelled" in caplog.text


async def test_work_that_ignores_cancellation_does_not_hold_shutdown() -> None:
    in_flight = InFlight()
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    assert await in_flight.within_deadline(stubborn(), seconds=0.01, what="test") is None
    await in_flight.finish(grace_seconds=0.05)
    assert len(in_flight) == 1  # still running, but shutdown went on
    release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(in_flight) == 0


async def test_late_failure_is_logged_once_done(caplog: pytest.LogCaptureFixture) -> None:
    in_flight = InFlight()

    async def fails_late() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("connection reset")

    with caplog.at_level(logging.ERROR, logger="paydesk.api.deadline"):
        assert await in_flight.within_deadline(fails_late(), seconds=0.01, what="push") is None
        assert "late push work failed" not in caplog.text
        await in_flight.finish(grace_seconds=5)
    assert "late push work failed" in caplog.text


async def test_a_failure_in_time_is_the_callers_to_handle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise RuntimeError("refused")

    task = await InFlight().within_deadline(fails(), seconds=1, what="push")
    assert task is not None
    with pytest.raises(RuntimeError, match="refused"):
        task.result()
    assert "late" not in caplog.text


async def test_apps_do_not_share_their_late_work() -> None:
    first, second = InFlight(), InFlight()
    release = asyncio.Event()
    assert await first.within_deadline(release.wait(), seconds=0.01, what="test") is None
    await second.finish(grace_seconds=0.01)  # returns at once: nothing of its own
    assert (len(first), len(second)) == (1, 0)
    release.set()
    await first.finish(grace_seconds=5)
    assert len(first) == 0
