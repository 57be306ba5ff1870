"""The chaos scenario at scale: N orders through faults and worker kills, then the verdict.

    .venv/bin/python bench/chaos.py [--orders 500] [--seed 20260301] [--workers 2]

The scenario is ``tests/chaos/scenario.py`` (the CI test runs it with 60 orders): mini program
users pay orders through paydesk's API while the sandbox drops, duplicates, delays and reorders
notifications and answers 5xx, paydesk's notify URL is down for a share of them, the merchant's
webhook receiver answers 503 now and then, and two ``paydesk worker`` processes are killed
with SIGKILL mid-run and replaced; then the clock jumps (expiries, retries, sweeps) and every
day is reconciled against the sandbox's bills. The database is a fresh PostgreSQL database
when ``$PAYDESK_BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
answers — with ``--workers`` worker processes — else a SQLite file with one. It prints a
summary and, as the last line, JSON::

    {"orders", "faults_injected", "mismatched_orders", "fen_difference", "undelivered_events"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scenario lives with the tests that prove it

from _database import bench_database  # noqa: E402
from paydesk.sandbox import SandboxCredentials  # noqa: E402
from tests.chaos.scenario import ChaosPlan, ChaosReport, run_chaos  # noqa: E402


def show(console: Console, label: str, report: ChaosReport, seconds: float) -> None:
    """The summary table, then what went wrong (if anything)."""
    table = Table(title=f"Chaos run on {label}", title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        *((name, str(value)) for name, value in sorted(report.counts.items())),
        ("faults injected", str(report.faults_injected)),
        *((f"{phase} phase (s)", f"{took:.1f}") for phase, took in report.phases.items()),
        ("total (s)", f"{seconds:.1f}"),
        ("mismatched orders", str(report.mismatched_orders)),
        ("fen difference", str(report.fen_difference)),
        ("reconciliation differences", str(len(report.reconcile_differences))),
        ("undelivered events", str(report.undelivered_events)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for problem in report.problems[:20]:
        console.print(f"[red]{problem}[/red]")
    for difference in report.reconcile_differences[:20]:
        console.print(f"[red]reconciliation: {difference}[/red]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (PostgreSQL)")
    args = parser.parse_args()
    console = Console(stderr=True)
    with (
        tempfile.TemporaryDirectory() as directory,
        bench_database("paydesk_chaos") as (label, url),
    ):
        workers = args.workers if label == "PostgreSQL" else 1
        concurrency = 16 if args.orders > 100 else 12
        plan = ChaosPlan(
            orders=args.orders, seed=args.seed, workers=workers, concurrency=concurrency
        )
        console.print(f"{args.orders} orders on {label}, {workers} worker process(es)…")
        credentials = SandboxCredentials.generate()
        started = time.monotonic()
        report = asyncio.run(
            run_chaos(plan, database_url=url, workdir=Path(directory), credentials=credentials)
        )
        show(console, label, report, time.monotonic() - started)
    print(json.dumps(report.summary()))


if __name__ == "__main__":
    main()
