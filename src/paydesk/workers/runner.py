"""A small worker loop: run named jobs over and over, nap when none has work, stop cleanly.

A job is a name and an async callable that does one batch of work and returns how much it did
(rows published, deliveries sent, orders swept…). The loop runs every job in turn; while any
of them reports work it goes round again at once, otherwise it sleeps ``idle_sleep`` seconds —
waking early when told to stop::

    worker = Worker([Job("publish", publish), Job("deliver", deliver)], idle_sleep=1.0)
    worker.install_signal_handlers()   # SIGTERM / SIGINT → finish the round, then return
    await worker.run()

A job that raises is logged and counted as idle; the others keep running, and the failing one
is tried again next round (a database restart must not kill the worker). Cancelling ``run``
lets the batch in flight finish, then propagates (a second cancel stops the batch too). Jobs get
their dependencies (:class:`JobContext`) from whoever builds them, never from a global, so tests
hand in a fixed clock, pinned randomness and an in-process HTTP transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.domain.clock import Clock
from paydesk.domain.ids import IdSource

__all__ = ["Job", "JobContext", "Worker"]

log = logging.getLogger("paydesk.workers")


@dataclass(frozen=True)
class Job:
    """One named unit of recurring work: ``run()`` does a batch and returns its size.

    >>> async def nothing() -> int:
    ...     return 0
    >>> Job("noop", nothing).name
    'noop'
    """

    name: str
    run: Callable[[], Awaitable[int]]


@dataclass(frozen=True, kw_only=True)
class JobContext:
    """What jobs may use, handed in explicitly: database, time, ids, HTTP, randomness.

    ``http`` is an :class:`httpx.AsyncClient` built by the caller, so tests give it an
    ``ASGITransport`` or ``MockTransport``; ``rng`` drives retry jitter.
    """

    db: async_sessionmaker[AsyncSession]
    clock: Clock
    ids: IdSource
    http: httpx.AsyncClient
    rng: random.Random


class Worker:
    """Runs ``jobs`` in a loop until :meth:`stop` (or a signal, or cancellation).

    >>> async def one() -> int:
    ...     return 1
    >>> asyncio.run(Worker([Job("one", one)], idle_sleep=0).run_once())
    {'one': 1}
    """

    def __init__(self, jobs: Sequence[Job], *, idle_sleep: float = 1.0) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        if idle_sleep < 0:
            raise ValueError("idle_sleep must not be negative")
        self.jobs = list(jobs)
        self.idle_sleep = idle_sleep
        #: Work done per job since the worker started.
        self.totals: dict[str, int] = dict.fromkeys(names, 0)
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def stop(self) -> None:
        """Finish the current round, then make :meth:`run` return. Safe to call twice."""
        if not self._stopping.is_set():
            log.info("worker stopping after this round")
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        """Stop on SIGTERM and SIGINT (call from inside the running event loop)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)

    async def _run_job(self, job: Job) -> int:
        batch = asyncio.ensure_future(job.run())
        try:
            # Shielded: a cancel lets the batch in flight end its transaction (a connection
            # cut mid-transaction is thrown away unclosed), then propagates.
            done = await asyncio.shield(batch)
        except asyncio.CancelledError:
            try:
                await batch
            except asyncio.CancelledError:
                batch.cancel()  # cancelled again: stop waiting, and stop the batch too
                raise
            except Exception:
                log.exception("job %s failed while the worker was stopping", job.name)
            raise
        except Exception:
            # A supervisor loop: one job's failure (database down, bug) must not stop the
            # others; it is logged with its traceback and retried next round.
            log.exception("job %s failed", job.name)
            return 0
        self.totals[job.name] += done
        return done

    async def run_once(self) -> dict[str, int]:
        """Run every job once, in order; returns the work each did."""
        return {job.name: await self._run_job(job) for job in self.jobs}

    async def run_until_idle(self) -> dict[str, int]:
        """Run rounds until one does no work (or the worker is stopped); returns the totals."""
        done: dict[str, int] = dict.fromkeys(self.totals, 0)
        while not self.stopping:
            round_ = await self.run_once()
            for name, count in round_.items():
                done[name] += count
            if not any(round_.values()):
                break
        return done

    async def run(self) -> None:
        """Loop until stopped: a round, then a nap if nobody had work."""
        log.info("worker started with jobs %s", ", ".join(self.totals))
        while not self.stopping:
            round_ = await self.run_once()
            if any(round_.values()):
                log.info("worker round: %s", ", ".join(f"{name}={n}" for name, n in round_.items()))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.idle_sleep)
        log.info(
            "worker stopped; totals: %s",
            ", ".join(f"{name}={n}" for name, n in self.totals.items()),
        )
