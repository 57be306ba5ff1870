"""``paydesk worker``: runs publish + delivery with the process's settings, stops on SIGTERM.

(The ``kill -9`` test in tests/workers/test_crash.py runs it as a subprocess.)
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from paydesk.cli import app
from paydesk.cli.worker_cmd import run_worker
from paydesk.db.engine import session_factory
from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery
from paydesk.domain.clock import SystemClock
from paydesk.domain.context import build_services
from paydesk.domain.ids import IdSource
from paydesk.settings import PaydeskConfig, Settings
from paydesk.workers import DeliveryOptions
from paydesk.workers.jobs import JOB_NAMES
from tests.domain.webhooks.world import new_endpoint, new_event
from tests.workers.receiver import Receiver, serve

pytestmark = pytest.mark.backends


async def test_worker_once_delivers_what_is_pending(
    database_url: str, db_engine: AsyncEngine
) -> None:
    db = session_factory(db_engine)
    clock = SystemClock()
    ids = IdSource(clock)
    receiver = Receiver(secret="")
    with serve(receiver) as base_url:
        _, receiver.secret = await new_endpoint(db, ids=ids, clock=clock, url=f"{base_url}/h")
        event = await new_event(db, ids=ids, clock=clock)
        env: dict[str, str | None] = {
            "PAYDESK_DATABASE_URL": database_url,
            "PAYDESK_CONFIG_FILE": None,
        }
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["worker", "--once", "--log-level", "warning"], env=env
        )
    assert result.exit_code == 0, result.output
    assert "worker done: publish=1, deliver=1" in result.output
    assert [r.event_id for r in receiver.received] == [event]
    async with db() as session:
        assert (await session.scalars(select(Delivery.state))).one() is DeliveryState.DELIVERED


def test_worker_refuses_a_lease_shorter_than_the_timeout() -> None:
    result = CliRunner().invoke(app, ["worker", "--lease", "5", "--timeout", "10"])
    assert result.exit_code == 2
    assert "must outlast" in result.output


async def test_run_worker_stops_on_sigterm(database_url: str, db_engine: AsyncEngine) -> None:
    services = build_services(Settings(database_url=database_url), PaydeskConfig())
    loop = asyncio.get_running_loop()

    async def terminate_once_handled() -> None:
        # A SIGTERM before run_worker installs its handler would kill this test process (a
        # fixed 0.3 s delay could, on a loaded machine).
        while signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # noqa: ASYNC110 - polls
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    terminating = asyncio.create_task(terminate_once_handled())
    try:
        totals = await asyncio.wait_for(
            run_worker(
                services,
                DeliveryOptions(lease=timedelta(seconds=20)),
                idle_sleep=0.05,
                once=False,
            ),
            timeout=10,
        )
    finally:
        terminating.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await services.aclose()
    assert totals == dict.fromkeys(JOB_NAMES, 0)  # webhooks and sweeps, nothing to do
