"""The worker loop: rounds, naps, stopping (call, signal, cancel), and failing jobs."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable

import pytest

from paydesk.workers.runner import Job, Worker


def scripted(counts: list[int], calls: list[str] | None = None, name: str = "") -> Job:
    """A job that reports ``counts`` in turn, then 0 forever."""
    remaining = list(counts)

    async def run() -> int:
        if calls is not None:
            calls.append(name)
        return remaining.pop(0) if remaining else 0

    return Job(name or "scripted", run)


def stopping_after(rounds: int, worker_box: list[Worker]) -> Job:
    """A job that stops its worker on its ``rounds``-th call."""
    seen = 0

    async def run() -> int:
        nonlocal seen
        seen += 1
        if seen == rounds:
            worker_box[0].stop()
        return 0

    return Job("stopper", run)


async def test_run_once_runs_each_job_in_order() -> None:
    calls: list[str] = []
    worker = Worker([scripted([2], calls, "a"), scripted([5], calls, "b")], idle_sleep=0)
    assert await worker.run_once() == {"a": 2, "b": 5}
    assert await worker.run_once() == {"a": 0, "b": 0}
    assert calls == ["a", "b", "a", "b"]
    assert worker.totals == {"a": 2, "b": 5}


async def test_run_until_idle_stops_at_the_first_empty_round() -> None:
    worker = Worker([scripted([3, 2, 0, 7], name="a"), scripted([1], name="b")], idle_sleep=0)
    assert await worker.run_until_idle() == {"a": 5, "b": 1}
    assert await worker.run_until_idle() == {"a": 7, "b": 0}  # the 0 ended the first call


async def test_run_goes_round_at_once_while_there_is_work_then_naps() -> None:
    box: list[Worker] = []
    stamps: list[float] = []

    async def busy_then_idle() -> int:
        stamps.append(time.monotonic())
        return 1 if len(stamps) <= 3 else 0

    worker = Worker([Job("work", busy_then_idle), stopping_after(6, box)], idle_sleep=0.3)
    box.append(worker)
    await asyncio.wait_for(worker.run(), timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(stamps) == 6
    assert all(gap < 0.15 for gap in gaps[:3])  # busy: no nap between rounds
    assert all(gap >= 0.28 for gap in gaps[3:])  # idle: a nap of idle_sleep
    assert worker.totals["work"] == 3


async def test_stop_wakes_a_napping_worker() -> None:
    worker = Worker([scripted([])], idle_sleep=60)
    asyncio.get_running_loop().call_later(0.05, worker.stop)
    started = time.monotonic()
    await asyncio.wait_for(worker.run(), timeout=5)
    assert time.monotonic() - started < 2
    assert worker.stopping
    worker.stop()  # a second stop is harmless


async def test_sigterm_stops_the_worker_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="paydesk.workers")
    worker = Worker([scripted([1])], idle_sleep=60)
    worker.install_signal_handlers()
    loop = asyncio.get_running_loop()
    try:
        loop.call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(worker.run(), timeout=5)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "worker started with jobs scripted"
    assert "worker round: scripted=1" in messages
    assert "worker stopping after this round" in messages
    assert messages[-1] == "worker stopped; totals: scripted=1"


async def test_cancelling_run_lets_the_batch_in_flight_finish_then_propagates() -> None:
    started = asyncio.Event()
    finished: list[bool] = []

    async def batch() -> int:
        started.set()
        await asyncio.sleep(0.05)  # e.g. a transaction between its BEGIN and its COMMIT
        finished.append(True)
        return 1

    task = asyncio.create_task(Worker([Job("batch", batch)]).run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]


async def test_a_second_cancel_does_not_wait_for_the_batch() -> None:
    started = asyncio.Event()

    async def slow() -> int:
        started.set()
        await asyncio.sleep(60)
        return 1

    task = asyncio.create_task(Worker([Job("slow", slow)]).run())
    await started.wait()
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)


async def test_a_failing_job_is_logged_and_the_others_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    failures = iter([True, False])

    async def flaky() -> int:
        calls.append("flaky")
        if next(failures):
            raise ConnectionError("database went away")
        return 4

    worker = Worker([Job("flaky", flaky), scripted([1, 1], calls, "steady")], idle_sleep=0)
    assert await worker.run_once() == {"flaky": 0, "steady": 1}
    assert await worker.run_once() == {"flaky": 4, "steady": 1}
    assert calls == ["flaky", "steady", "flaky", "steady"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "job flaky failed"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Worker([scripted([], name="x"), scripted([], name="x")]), "unique"),
        (lambda: Worker([scripted([])], idle_sleep=-1), "negative"),
    ],
)
def test_worker_refuses_bad_setup(make: Callable[[], Worker], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


async def test_run_until_idle_does_nothing_once_stopped() -> None:
    calls: list[str] = []
    worker = Worker([scripted([1, 1], calls, "a")], idle_sleep=0)
    worker.stop()
    assert await worker.run_until_idle() == {"a": 0}
    assert calls == []
