"""The webhook jobs: fan new outbox events out, then send what is due.

``deliver_due`` claims a batch under a lease and commits *before* sending, sends each request
concurrently (the stored event re-encoded to its canonical bytes, signed at send time with the
endpoint's active secrets), then records the batch's outcomes in one short transaction::

    POST <endpoint url>
    Content-Type: application/json
    Paydesk-Signature: t=<unix>,v1=<hex>[,v1=<hex>]
    Paydesk-Event-Id: evt_…
    User-Agent: paydesk-webhooks/<version>

A worker killed mid-request leaves its lease to expire; the next worker sends the same bytes
with the same event id (docs/webhooks.md: at least once, dedupe on ``id``). The lease must
outlast the request timeout, or a slow endpoint would get the same delivery twice at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from paydesk import __version__
from paydesk.db.enums import DeliveryState
from paydesk.db.models.webhooks import RESPONSE_EXCERPT_LENGTH
from paydesk.domain.webhooks import (
    DEFAULT_POLICY,
    AttemptOutcome,
    ClaimedDelivery,
    RetryPolicy,
    claim_due,
    publish_pending,
    record_attempts,
)
from paydesk.webhooks import SIGNATURE_HEADER, sign
from paydesk.workers.runner import Job, JobContext

__all__ = [
    "EVENT_ID_HEADER",
    "USER_AGENT",
    "DeliveryOptions",
    "deliver_due",
    "delivery_jobs",
    "post_event",
    "publish",
]

#: Names the event in a header too, so a receiver can dedupe before reading the body.
EVENT_ID_HEADER = "Paydesk-Event-Id"
USER_AGENT = f"paydesk-webhooks/{__version__}"

log = logging.getLogger("paydesk.workers.delivery")


@dataclass(frozen=True, kw_only=True)
class DeliveryOptions:
    """How the delivery jobs behave.

    >>> DeliveryOptions(lease=timedelta(seconds=5), timeout=10.0)
    Traceback (most recent call last):
    ...
    ValueError: the lease (5.0 s) must outlast the request timeout (10.0 s)
    """

    batch_size: int = 50  #: deliveries claimed (and sent concurrently) per round
    publish_batch_size: int = 200  #: outbox events fanned out per round
    lease: timedelta = timedelta(seconds=60)  #: how long a claim stays exclusive
    timeout: float = 10.0  #: seconds a whole request may take, connect to last byte
    policy: RetryPolicy = field(default=DEFAULT_POLICY)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.publish_batch_size < 1:
            raise ValueError("batch sizes must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.lease.total_seconds() <= self.timeout:
            raise ValueError(
                f"the lease ({self.lease.total_seconds()} s) must outlast "
                f"the request timeout ({self.timeout} s)"
            )


async def _read_excerpt(response: httpx.Response) -> str:
    """The first 1 KiB of the body, decoded leniently; the rest is never read."""
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= RESPONSE_EXCERPT_LENGTH:
            break
    return head[:RESPONSE_EXCERPT_LENGTH].decode("utf-8", errors="replace")


def _milliseconds_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def post_event(
    http: httpx.AsyncClient, claimed: ClaimedDelivery, *, timestamp: int, time_limit: float
) -> AttemptOutcome:
    """Send one claimed delivery within ``time_limit`` seconds; returns how it ended.

    Every failure (refused connection, timeout, bad URL) becomes an outcome with ``error``,
    never an exception.
    """
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(claimed.body, claimed.secrets, timestamp),
        EVENT_ID_HEADER: claimed.event_id,
        "User-Agent": USER_AGENT,
    }
    started = time.perf_counter()
    try:
        # httpx's timeout applies per phase; the outer one bounds the whole exchange, so a
        # server trickling bytes cannot hold the request past the lease.
        async with asyncio.timeout(time_limit):
            async with http.stream(
                "POST", claimed.url, content=claimed.body, headers=headers, timeout=time_limit
            ) as response:
                excerpt = await _read_excerpt(response)
    except TimeoutError:
        error = f"timed out after {time_limit:g} s"
        return AttemptOutcome(
            status_code=None, duration_ms=_milliseconds_since(started), error=error
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return AttemptOutcome(
            status_code=None, duration_ms=_milliseconds_since(started), error=error
        )
    return AttemptOutcome(
        status_code=response.status_code,
        duration_ms=_milliseconds_since(started),
        response_excerpt=excerpt,
    )


async def _send(
    ctx: JobContext, options: DeliveryOptions, claimed: ClaimedDelivery
) -> AttemptOutcome:
    timestamp = int(ctx.clock.now().timestamp())
    return await post_event(ctx.http, claimed, timestamp=timestamp, time_limit=options.timeout)


def _log_notable(
    claimed: ClaimedDelivery, outcome: AttemptOutcome, state: DeliveryState | None
) -> None:
    if state is None:
        log.warning("delivery %s: lease lost before its outcome was recorded", claimed.delivery_id)
    elif state is DeliveryState.DEAD:
        log.warning(
            "delivery %s of %s to %s is dead after %d attempts (last: %s)",
            claimed.delivery_id,
            claimed.event_id,
            claimed.url,
            claimed.attempt,
            outcome.status_code or outcome.error,
        )


async def deliver_due(ctx: JobContext, options: DeliveryOptions | None = None) -> int:
    """Claim a batch of due deliveries, send them concurrently; returns how many were sent.

    The outcomes are recorded together, in one transaction, once the whole batch is back (the
    next batch could not start earlier anyway, and one commit per batch instead of one per
    delivery is what lets a worker keep up). Should recording fail, or the worker die before
    it, the leases expire and the batch goes out again — at least once, same event ids.
    """
    options = options or DeliveryOptions()
    async with ctx.db.begin() as session:
        claimed = await claim_due(
            session, now=ctx.clock.now(), lease=options.lease, limit=options.batch_size
        )
    # Committed: the lease is now visible to every other worker, before any byte leaves.
    if not claimed:
        return 0
    outcomes = await asyncio.gather(*(_send(ctx, options, c) for c in claimed))
    async with ctx.db.begin() as session:
        states = await record_attempts(
            session,
            list(zip(claimed, outcomes, strict=True)),
            now=ctx.clock.now(),
            rng=ctx.rng,
            policy=options.policy,
        )
    for delivery, outcome, state in zip(claimed, outcomes, states, strict=True):
        _log_notable(delivery, outcome, state)
    return len(claimed)


async def publish(ctx: JobContext, options: DeliveryOptions | None = None) -> int:
    """Fan out a batch of new outbox events; returns how many were published."""
    options = options or DeliveryOptions()
    async with ctx.db.begin() as session:
        return await publish_pending(
            session, ids=ctx.ids, now=ctx.clock.now(), limit=options.publish_batch_size
        )


def delivery_jobs(ctx: JobContext, options: DeliveryOptions | None = None) -> list[Job]:
    """The two webhook jobs for a :class:`~paydesk.workers.runner.Worker`: publish, deliver."""
    chosen = options or DeliveryOptions()

    async def publish_job() -> int:
        return await publish(ctx, chosen)

    async def deliver_job() -> int:
        return await deliver_due(ctx, chosen)

    return [Job("publish", publish_job), Job("deliver", deliver_job)]
