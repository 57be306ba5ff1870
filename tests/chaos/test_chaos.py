"""The proof that nothing is lost: orders through a misbehaving network and dying workers, then
time, sweeps and reconciliation — every order equal to WeChat's, to the fen, every event
delivered. (``bench/chaos.py`` runs the same scenario with 500 orders.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.sandbox import SandboxCredentials
from tests.backends import Backend
from tests.chaos.scenario import ChaosPlan, run_chaos

pytestmark = [pytest.mark.backends, pytest.mark.slow]


async def test_chaos_loses_nothing(
    backend: Backend,
    database_url: str,
    db_engine: AsyncEngine,
    sandbox_credentials: SandboxCredentials,
    tmp_path: Path,
) -> None:
    # SQLite takes one writer at a time: one worker process there, two on PostgreSQL.
    plan = ChaosPlan(orders=60, workers=2 if backend == "postgresql" else 1)

    report = await run_chaos(
        plan,
        database_url=database_url,
        workdir=tmp_path,
        credentials=sandbox_credentials,
        engine=db_engine,
    )

    assert report.problems == []
    assert report.reconcile_differences == []
    assert report.summary() == {
        "orders": 60,
        "faults_injected": report.faults_injected,
        "mismatched_orders": 0,
        "fen_difference": 0,
        "undelivered_events": 0,
    }
    # The storm really happened, and the orders really took every road.
    assert report.counts["worker kills"] == 2
    assert report.faults_injected > 20
    assert report.counts["paid"] > 30
    assert report.counts["cancelled"] + report.counts["never paid"] > 5
    assert report.counts["refunds asked"] > 5
