"""The jobs ``paydesk worker`` runs, in order, and the worker ``paydesk serve`` runs in-process.

::

    publish         outbox events fanned out to the merchant's endpoints    (delivery.py)
    deliver         due webhook deliveries sent                             (delivery.py)
    query_paying    PAYING orders queried at WeChat on their backoff        (domain.sweeps)
    close_expired   unpaid orders past expiry closed at WeChat and here     (domain.sweeps)
    auto_refund     anomalous payments refunded, where the merchant says so (domain.sweeps)
    retry_refunds   refunds WeChat has not settled resubmitted or queried   (domain.refunds)

Each job claims its rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set
everywhere), so any number of workers may run against PostgreSQL; on SQLite, run one — by
default the one ``paydesk serve`` starts with the app (:func:`background_jobs`; switch it off
with ``PAYDESK_RUN_WORKER_IN_PROCESS=false`` when separate workers run). Events written by a
sweep are published in the next round.

>>> JOB_NAMES[-2:]
('retry_refunds', 'rerun_pushes')
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from paydesk.domain.push.sweep import rerun_unhandled_pushes
from paydesk.domain.refunds import retry_pending_refunds
from paydesk.domain.sweeps import (
    SweepRound,
    close_expired_orders,
    query_paying_orders,
    refund_anomalous_payments,
)
from paydesk.workers.delivery import DeliveryOptions, delivery_jobs
from paydesk.workers.runner import Job, JobContext, Worker

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    from paydesk.domain.context import Services
    from paydesk.settings import Settings

__all__ = [
    "JOB_NAMES",
    "SweepOptions",
    "background_jobs",
    "in_process_worker",
    "job_context",
    "sweep_jobs",
    "worker_jobs",
]

JOB_NAMES = (
    "publish",
    "deliver",
    "query_paying",
    "close_expired",
    "auto_refund",
    "retry_refunds",
    "rerun_pushes",
)

log = logging.getLogger("paydesk.workers")


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    """How much each sweep takes on per round, and how soon a refund is asked about again.

    >>> SweepOptions(batch_size=0)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be at least 1
    """

    batch_size: int = 50  #: orders claimed per round by the query and expiry sweeps
    refund_batch_size: int = 100  #: refunds looked at per round
    #: first wait before an open refund is asked about again (it doubles, up to an hour)
    refund_base_delay: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        for name in ("batch_size", "refund_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.refund_base_delay < timedelta(0):
            raise ValueError("refund_base_delay must not be negative")


def _counted(action: Callable[[], Awaitable[SweepRound]]) -> Callable[[], Awaitable[int]]:
    async def run() -> int:
        round_ = await action()
        if round_.done:
            log.info("%s", ", ".join(f"{k}={v}" for k, v in sorted(round_.outcomes.items())))
        return round_.done

    return run


def sweep_jobs(services: Services, options: SweepOptions | None = None) -> list[Job]:
    """The sweeps as jobs over ``services``; each returns how many rows it handled."""
    chosen = options or SweepOptions()

    async def retry_refunds() -> int:
        tried = await retry_pending_refunds(
            services, base_delay=chosen.refund_base_delay, limit=chosen.refund_batch_size
        )
        return tried.resubmitted + tried.queried

    return [
        Job(
            "query_paying",
            _counted(lambda: query_paying_orders(services, limit=chosen.batch_size)),
        ),
        Job(
            "close_expired",
            _counted(lambda: close_expired_orders(services, limit=chosen.batch_size)),
        ),
        Job("auto_refund", _counted(lambda: refund_anomalous_payments(services))),
        Job("retry_refunds", retry_refunds),
        Job("rerun_pushes", lambda: rerun_unhandled_pushes(services)),
    ]


def worker_jobs(
    services: Services,
    ctx: JobContext,
    delivery: DeliveryOptions | None = None,
    sweeps: SweepOptions | None = None,
) -> list[Job]:
    """Every job of a worker, in the order of :data:`JOB_NAMES`."""
    return [*delivery_jobs(ctx, delivery), *sweep_jobs(services, sweeps)]


def job_context(services: Services, http: httpx.AsyncClient) -> JobContext:
    """The jobs' dependencies from the process's services, with OS-seeded jitter."""
    return JobContext(
        db=services.db,
        clock=services.clock,
        ids=services.ids,
        http=http,
        rng=random.SystemRandom(),
    )


async def in_process_worker(services: Services, *, idle_sleep: float = 1.0) -> None:
    """Run every job beside the app until cancelled (``paydesk serve``'s worker)."""
    # No redirects: a webhook is delivered by a 2xx from the URL the merchant registered.
    async with httpx.AsyncClient(follow_redirects=False) as http:
        worker = Worker(worker_jobs(services, job_context(services, http)), idle_sleep=idle_sleep)
        await worker.run()


def background_jobs(
    settings: Settings,
) -> list[Callable[[Services], Coroutine[Any, Any, None]]]:
    """What ``paydesk serve`` runs beside the app: the worker, unless switched off.

    >>> from paydesk.settings import Settings
    >>> len(background_jobs(Settings(run_worker_in_process=False)))
    0
    """
    return [in_process_worker] if settings.run_worker_in_process else []
