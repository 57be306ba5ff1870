"""``paydesk worker``: run the background jobs until SIGTERM.

    $ paydesk worker                       # webhooks and sweeps (workers/jobs.py), forever
    $ paydesk worker --once                # until there is nothing left to do, then exit

Any number of workers may run against PostgreSQL (rows are claimed with ``FOR UPDATE SKIP
LOCKED``); against SQLite run one. SIGTERM or Ctrl-C finishes the current round and exits 0; a
worker killed harder leaves its claims to expire after ``--lease`` seconds, when another worker
sends the same events again (same ids).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from paydesk.domain.context import Services
    from paydesk.workers import DeliveryOptions

log = logging.getLogger("paydesk.workers")


async def run_worker(
    services: Services, options: DeliveryOptions, *, idle_sleep: float, once: bool
) -> dict[str, int]:
    """Run the jobs with ``services`` until stopped (or idle, with ``once``); the totals."""
    import httpx

    from paydesk.db.engine import is_postgresql
    from paydesk.workers import Worker
    from paydesk.workers.jobs import job_context, worker_jobs

    if not is_postgresql(services.engine):
        log.info("SQLite database: run a single worker (rows cannot be claimed concurrently)")
    # No redirects: a webhook is delivered by a 2xx from the URL the merchant registered.
    async with httpx.AsyncClient(follow_redirects=False) as http:
        jobs = worker_jobs(services, job_context(services, http), options)
        worker = Worker(jobs, idle_sleep=idle_sleep)
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
    """Run webhook delivery and the sweeps until SIGTERM (or, with --once, until idle)."""
    # Imported here so that other commands do not pay for the database's and domain's imports.
    from paydesk.domain.context import build_services
    from paydesk.settings import load_settings_and_config
    from paydesk.workers import DeliveryOptions

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
