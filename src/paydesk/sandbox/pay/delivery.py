"""Notification delivery: a queue on virtual time, WeChat's retry schedule, every attempt kept.

A :class:`Delivery` is one notification (one event id, one body) to one URL. It is attempted at
once, then, while unacknowledged, on the schedule of :mod:`.retry`. v3 bodies are re-signed
at every attempt (fresh wall timestamp and nonce); the body and event id never change.

Acknowledged means: v3 — HTTP 200 or 204; v2 — HTTP 200 with ``return_code`` SUCCESS; an
``xpay`` push (virtual payment's goods delivery, sealed anew for every attempt by its
``reseal``) — HTTP 200 with ``{"ErrCode": 0}``; all within ``timeout_seconds`` (5 s, wall
time). Anything else, a connection error included, is a failure. Notification faults (drop,
duplicate, delay, reorder, signtest) come from the :class:`~paydesk.sandbox.faults.FaultPlan`.

The :class:`Dispatcher` runs as a task (``start()``): it launches due attempts, waking early
when something is queued. ``run_due()`` makes one pass in the caller's task. A delivery is
never attempted twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from paydesk.protocol.errors import ProtocolError
from paydesk.protocol.messages import parse_xpay_answer
from paydesk.protocol.v2.codec import parse_v2_fields
from paydesk.sandbox.clock import SandboxClock
from paydesk.sandbox.faults import FaultPlan
from paydesk.sandbox.pay.records import Attempt, AttemptKind, Delivery
from paydesk.sandbox.pay.retry import next_attempt_at

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "Dispatcher"]

#: How long an attempt may take before it counts as unanswered (WeChat: 5 s).
DEFAULT_TIMEOUT_SECONDS = 5.0
#: A released reordered notification follows the one that overtook it after this long.
REORDER_GAP = timedelta(seconds=1)
_EXCERPT = 512
_MAX_SLEEP = 0.2
_CONCURRENCY = 16


def _acknowledged(api: str, status: int, content: bytes) -> bool:
    if api == "v3":
        return status in (200, 204)
    if api == "xpay":
        return status == 200 and parse_xpay_answer(content) == 0
    if status != 200:
        return False
    try:
        return parse_v2_fields(content).get("return_code") == "SUCCESS"
    except ProtocolError:
        return False


class Dispatcher:
    """Queues notifications and delivers them through ``http`` on ``clock``'s virtual time."""

    def __init__(
        self,
        *,
        clock: SandboxClock,
        http: httpx.AsyncClient,
        faults: FaultPlan,
        before_pass: Callable[[], None] = lambda: None,
    ) -> None:
        self.clock = clock
        self.http = http
        self.faults = faults
        self.before_pass = before_pass
        self.timeout_seconds = DEFAULT_TIMEOUT_SECONDS
        self.deliveries: list[Delivery] = []
        self._pending: dict[int, Delivery] = {}
        self._tasks: set[asyncio.Task[int]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._gate = asyncio.Semaphore(_CONCURRENCY)

    # -- queue -------------------------------------------------------------------------------

    def enqueue(self, delivery: Delivery) -> Delivery:
        """Queue a new delivery, applying the delay / reorder / signtest faults."""
        now = self.clock.now()
        delivery.id = len(self.deliveries) + 1
        delivery.due_at = now
        delay = self.faults.notify_fault("delay", delivery.url)
        if delay is not None:
            delivery.due_at = now + timedelta(seconds=delay.wait_seconds)
            delivery.notes.append(f"delayed {delay.wait_seconds:g} s by fault #{delay.id}")
        for held in [d for d in self._pending.values() if d.state == "held"]:
            held.state = "pending"
            held.due_at = delivery.due_at + REORDER_GAP
            held.notes.append(f"released after delivery #{delivery.id} overtook it")
        reorder = self.faults.notify_fault("reorder", delivery.url)
        if reorder is not None:
            delivery.state = "held"
            delivery.due_at = delivery.due_at + timedelta(seconds=reorder.wait_seconds)
            delivery.notes.append(f"held back by fault #{reorder.id} for a later one to overtake")
        if delivery.signer is not None and self.faults.notify_fault("signtest", delivery.url):
            delivery.probe_pending = True
        self.deliveries.append(delivery)
        self._pending[delivery.id] = delivery
        self._wake.set()
        return delivery

    def reset(self) -> None:
        """Forget every delivery (in-flight attempts finish but are not kept)."""
        self.deliveries = []
        self._pending = {}

    def due(self) -> list[Delivery]:
        """Deliveries due by virtual now and not being attempted, oldest due first."""
        now = self.clock.now()
        ready = [
            d
            for d in self._pending.values()
            if not d.in_flight and d.due_at is not None and d.due_at <= now
        ]
        return sorted(ready, key=lambda d: (d.due_at or now, d.id))

    def next_due(self) -> datetime | None:
        """When the next queued attempt is due, if any."""
        times = [d.due_at for d in self._pending.values() if d.due_at and not d.in_flight]
        return min(times, default=None)

    # -- attempts ----------------------------------------------------------------------------

    async def _send(self, delivery: Delivery, kind: AttemptKind, number: int) -> Attempt:
        headers = {"Content-Type": delivery.content_type, "User-Agent": "Mozilla/4.0"}
        if delivery.signer is not None:
            headers.update(delivery.signer(delivery.body, kind == "probe"))
        url, body = (delivery.url, delivery.body)
        if delivery.reseal is not None:
            url, body = delivery.reseal(number)
        attempt = Attempt(number=number, kind=kind, at=self.clock.now(), url=url)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self.http.post(
                    url,
                    content=body,
                    headers=headers,
                    timeout=self.timeout_seconds,
                )
            attempt.status = response.status_code
            attempt.excerpt = response.text[:_EXCERPT]
            attempt.acknowledged = _acknowledged(
                delivery.api, response.status_code, response.content
            )
        except (TimeoutError, httpx.TimeoutException):
            attempt.error = f"no answer within {self.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"[:_EXCERPT]
        attempt.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        delivery.attempts.append(attempt)
        return attempt

    async def attempt(self, delivery: Delivery) -> int:
        """One real attempt (after a probe, before a duplicate, as faults decide).

        Returns how many HTTP attempts were recorded, dropped ones included.
        """
        made = 0
        number = delivery.real_attempts + 1
        if delivery.probe_pending:
            delivery.probe_pending = False
            await self._send(delivery, "probe", number)
            made += 1
        drop = self.faults.notify_fault("drop", delivery.url)
        if drop is not None:
            real = Attempt(number=number, kind="real", at=self.clock.now(), url=delivery.url)
            real.fault = f"drop (fault #{drop.id})"
            real.error = "lost on the way: the merchant never saw it"
            delivery.attempts.append(real)
        else:
            real = await self._send(delivery, "real", number)
        made += 1
        if real.acknowledged:
            delivery.state, delivery.due_at = "delivered", None
        else:
            # The gap counts from when this attempt went out, as its record says: counting
            # from before it was signed made the next one look early in the log (loaded CI).
            delivery.due_at = next_attempt_at(number, real.at)
            delivery.state = "pending" if delivery.due_at is not None else "failed"
        if delivery.state != "pending":
            self._pending.pop(delivery.id, None)
        if drop is None and self.faults.notify_fault("duplicate", delivery.url):
            await self._send(delivery, "duplicate", number)
            made += 1
        return made

    async def _run_one(self, delivery: Delivery) -> int:
        try:
            async with self._gate:
                return await self.attempt(delivery)
        finally:
            delivery.in_flight = False
            self._wake.set()  # its next attempt may be due before the dispatcher's next look

    def _claim_due(self) -> list[Delivery]:
        self.before_pass()
        due = self.due()
        for delivery in due:
            delivery.in_flight = True
        return due

    async def run_due(self) -> int:
        """Make every attempt due by virtual now, in this task; how many were made."""
        made = await asyncio.gather(*(self._run_one(d) for d in self._claim_due()))
        return sum(made)

    # -- the background task -----------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            for delivery in self._claim_due():
                task = asyncio.create_task(self._run_one(delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            nxt = self.next_due()
            sleep = _MAX_SLEEP if nxt is None else self.clock.wall_seconds_until(nxt)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(sleep, _MAX_SLEEP)):
                    await self._wake.wait()
            self._wake.clear()

    async def start(self) -> None:
        """Start the dispatcher task (idempotent)."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._loop(), name="sandbox-pay-dispatcher")

    async def stop(self) -> None:
        """Stop the dispatcher and abandon in-flight attempts; queued deliveries stay."""
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a test helper's bound
        """Wait until nothing is due or in flight (``TimeoutError`` after ``timeout`` s)."""
        async with asyncio.timeout(timeout):
            while True:
                made = await self.run_due()
                busy = [t for t in self._tasks if not t.done()]
                if busy:
                    await asyncio.wait(busy)
                elif made == 0 and not self.due():
                    return
