"""``kill -9`` a worker in the middle of a delivery: the event arrives again, with the same id.

The worker is ``python -m paydesk worker`` in a subprocess against the test database; the
receiver (real HTTP, in a thread) holds the first request open, the test kills the worker while
it waits, and a second worker picks the delivery up once the first one's lease has expired.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, DeliveryAttempt
from paydesk.domain.clock import SystemClock
from paydesk.domain.ids import IdSource
from tests.domain.webhooks.world import new_endpoint, new_event
from tests.workers.receiver import Receiver, serve

pytestmark = [pytest.mark.backends, pytest.mark.slow]

# Short enough to keep the test quick, longer than the request timeout as the worker demands.
# The waits below are generous: a worker process may take seconds to start on a busy machine.
LEASE, TIMEOUT = "3", "2"


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PAYDESK_DATABASE_URL": database_url, "PAYDESK_ENVIRONMENT": "development"}
    command = [sys.executable, "-m", "paydesk", "worker", "--lease", LEASE, "--timeout", TIMEOUT,
               "--idle-sleep", "0.1"]  # fmt: skip
    with log.open("ab") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)


async def wait_for(
    condition: Callable[[], bool], what: str, log: Path, seconds: float = 90
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            output = await asyncio.to_thread(log.read_text)
            pytest.fail(f"timed out waiting for {what}; worker log:\n{output}")
        await asyncio.sleep(0.05)


async def test_a_killed_worker_s_delivery_is_sent_again_with_the_same_id(
    database_url: str, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    clock = SystemClock()
    ids = IdSource(clock)
    log = tmp_path / "worker.log"
    receiver = Receiver(secret="", block_first=True)
    with serve(receiver) as base_url:
        _, receiver.secret = await new_endpoint(db, ids=ids, clock=clock, url=f"{base_url}/hook")
        event = await new_event(db, ids=ids, clock=clock)

        doomed = start_worker(database_url, log)
        try:
            await wait_for(receiver.first_arrived.is_set, "the first request", log)
            doomed.send_signal(signal.SIGKILL)  # mid-delivery: the receiver still holds it
            assert doomed.wait(timeout=10) == -signal.SIGKILL
        finally:
            doomed.kill()

        survivor = start_worker(database_url, log)
        try:
            await wait_for(lambda: len(receiver.received) >= 2, "the second request", log)

            async def delivered() -> bool:
                async with db() as session:
                    state = (await session.scalars(select(Delivery.state))).one()
                return state is DeliveryState.DELIVERED

            deadline = time.monotonic() + 30
            while not await delivered():
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.05)
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(timeout=30) == 0, log.read_text()  # a clean stop
        finally:
            survivor.kill()

    first, second = receiver.received
    assert first.event_id == second.event_id == event
    assert first.event is not None
    assert second.event is not None
    assert first.event["id"] == second.event["id"] == event
    assert first.body == second.body
    async with db() as session:
        logged = (await session.scalars(select(DeliveryAttempt))).all()
    assert [a.status_code for a in logged] == [200]  # the killed try left no attempt row
    assert "worker stopped; totals: publish=0, deliver=1" in log.read_text()
