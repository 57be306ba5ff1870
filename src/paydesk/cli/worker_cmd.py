"""``paydesk worker``: run the background jobs until SIGTERM.

    $ paydesk worker                       # webhook fan-out and delivery, forever
    $ paydesk worker --once                # until there is nothing left to do, then exit

Any number of workers may run against PostgreSQL (rows are claimed with ``FOR UPDATE SKIP
LOCKED``); against SQLite run one. SIGTERM or Ctrl-C finishes the current round and exits 0; a
worker killed harder leaves its claims to expire after ``--lease`` seconds, when another worker
sends the same events again (same ids).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from typing import Annotated

import httpx
import typer
from rich.console import Console

from paydesk.db.engine import is_postgresql
from paydesk.domain.context import Services, build_services
from paydesk.settings import load_settings_and_config
from paydesk.workers import DeliveryOptions, JobContext, Worker, delivery_jobs

log = logging.getLogger("paydesk.workers")


def job_context(services: Services, http: httpx.AsyncClient) -> JobContext:
    """The jobs' dependencies from the process's services, with OS-seeded jitter."""
    return JobContext(
        db=services.db,
        clock=services.clock,
        ids=services.ids,
        http=http,
        rng=random.SystemRandom(),
    )


async def run_worker(
    services: Services, options: DeliveryOptions, *, idle_sleep: float, once: bool
) -> dict[str, int]:
    """Run the jobs with ``services`` until stopped (or idle, with ``once``); the totals."""
    if not is_postgresql(services.engine):
        log.info("SQLite database: run a single worker (rows cannot be claimed concurrently)")
    # No redirects: a webhook is delivered by a 2xx from the URL the merchant registered.
    async with httpx.AsyncClient(follow_redirects=False) as http:
        worker = Worker(delivery_jobs(job_context(services, http), options), idle_sleep=idle_sleep)
        if once:
            return await worker.run_until_idle()
        worker.install_signal_handlers()
        await worker.run()
        return worker.totals


def worker(
    lease: Annotated[
        float, typer.Option(min=0.1, help="Seconds a claimed delivery stays exclusive.")
    ] = 60.0,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds one webhook request may take in all.")
    ] = 10.0,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Deliveries claimed and sent concurrently per round.")
    ] = 50,
    idle_sleep: Annotated[
        float, typer.Option(min=0.0, help="Seconds to nap when there is nothing to do.")
    ] = 1.0,
    once: Annotated[
        bool, typer.Option("--once", help="Exit when there is nothing left to do.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run webhook fan-out and delivery until SIGTERM (or, with --once, until idle)."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        options = DeliveryOptions(
            lease=timedelta(seconds=lease), timeout=timeout, batch_size=batch_size
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def main() -> dict[str, int]:
        services = build_services(*load_settings_and_config())
        try:
            return await run_worker(services, options, idle_sleep=idle_sleep, once=once)
        finally:
            await services.aclose()

    totals = asyncio.run(main())
    Console(stderr=True).print(
        "worker done: " + ", ".join(f"{name}={count}" for name, count in totals.items())
    )
