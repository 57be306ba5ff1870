"""Webhook deliveries per second to a local receiver, with one worker process and with two.

    .venv/bin/python bench/webhooks.py [--events 1500] [--seconds 10] [--batch-size 50]

The database is a fresh PostgreSQL database when the server at ``$PAYDESK_BENCH_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``) answers, else a SQLite file in a
temporary directory; the table says which. The receiver is uvicorn on 127.0.0.1 in this
process (a thread), verifying every signature and answering 204. Each worker is a separate
process running :func:`paydesk.workers.deliver_due` in a loop, exactly as ``paydesk worker``
does; it connects and warms up first, then the clock starts when every worker is told to go
and stops when every worker has found nothing left to claim, or has finished the batch it held
when ``--seconds`` ran out (so the whole run stays under a minute on a slow machine). Each run
gets its own ``--events`` fresh events, fanned out before the clock starts; the rate is the
deliveries that run recorded as DELIVERED divided by its time. The last line is JSON::

    {"one_worker_per_s": …, "two_workers_per_s": …, "scaling": two / one}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from _database import bench_database
from paydesk.db.engine import create_engine, session_factory
from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery
from paydesk.domain.clock import SystemClock
from paydesk.domain.ids import IdSource
from paydesk.domain.outbox import add_event
from paydesk.domain.webhooks import add_endpoint, publish_pending
from paydesk.webhooks import WebhookVerificationError, verify
from paydesk.workers import DeliveryOptions, JobContext, deliver_due

MCHID = "1900000001"


# --- the receiver ----------------------------------------------------------------------------


class Receiver:
    """A merchant endpoint: verify, count, answer 204."""

    def __init__(self) -> None:
        self.secret = ""
        self.verified = 0
        self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status = 204
        if scope["method"] == "POST":
            headers = dict(scope["headers"])
            try:
                verify(body, headers.get(b"paydesk-signature", b"").decode(), self.secret)
                self.verified += 1
            except WebhookVerificationError:
                self.refused += 1
                status = 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def serve(app: Receiver) -> Iterator[str]:
    """uvicorn on a free loopback port, in a thread; yields the base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, backlog=4096)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --- the database ----------------------------------------------------------------------------


async def seed(url: str, *, endpoint_url: str | None, events: int) -> str | None:
    """Add the endpoint (once, returns its secret) and ``events`` published events."""
    engine = create_engine(url)
    db = session_factory(engine)
    clock = SystemClock()
    ids = IdSource(clock)
    secret = None
    try:
        if endpoint_url is not None:
            async with db.begin() as session:
                _, secret = await add_endpoint(
                    session, mchid=MCHID, url=endpoint_url, ids=ids, now=clock.now()
                )
        async with db.begin() as session:
            for n in range(events):
                await add_event(
                    session,
                    ids=ids,
                    type="order.paid",
                    mchid=MCHID,
                    data={"order_id": f"ord_{n}", "amount": 100 + n, "description": "一杯咖啡"},
                    now=clock.now(),
                )
        while True:
            async with db.begin() as session:
                if not await publish_pending(session, ids=ids, now=clock.now(), limit=1000):
                    break
    finally:
        await engine.dispose()
    return secret


async def count_delivered(url: str) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            query = select(func.count()).where(Delivery.state == DeliveryState.DELIVERED)
            return int(await session.scalar(query) or 0)
    finally:
        await engine.dispose()


# --- a worker process ------------------------------------------------------------------------


async def child(url: str, receiver_url: str, batch_size: int, seconds: float) -> None:
    """Warm up, say ``ready``, wait for ``go``, deliver until nothing is left or time is up."""
    engine = create_engine(url)
    clock = SystemClock()
    limits = httpx.Limits(max_connections=batch_size, max_keepalive_connections=batch_size)
    async with httpx.AsyncClient(limits=limits) as http:
        await http.get(receiver_url)  # connection and imports warm
        async with session_factory(engine)() as session:
            await session.scalar(select(func.count()).select_from(Delivery))
        ctx = JobContext(
            db=session_factory(engine), clock=clock, ids=IdSource(clock), http=http,
            rng=random.Random(os.getpid()),
        )  # fmt: skip
        options = DeliveryOptions(batch_size=batch_size, lease=timedelta(seconds=60))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        deadline = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < deadline and (done := await deliver_due(ctx, options)):
            sent += done
    await engine.dispose()
    print(f"sent {sent}", flush=True)


def run_workers(
    url: str, receiver_url: str, *, workers: int, batch_size: int, seconds: float
) -> float:
    """Start ``workers`` processes, time them from ``go`` until all are done; seconds."""
    command = [sys.executable, __file__, "--child", url, receiver_url, str(batch_size),
               str(seconds)]  # fmt: skip
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("a worker process failed to start")
    started = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.wait(timeout=120)
    return time.perf_counter() - started


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1500, help="events per run")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per run")
    parser.add_argument("--batch-size", type=int, default=50, help="deliveries per claim")
    args = parser.parse_args()

    console = Console()
    receiver = Receiver()
    rates: dict[int, float] = {}
    total_delivered = 0
    table = Table(title="paydesk webhook delivery (workers are separate processes)")
    for column in ("database", "workers", "delivered", "seconds", "deliveries/s"):
        table.add_column(column, justify="right" if column != "database" else "left")
    with serve(receiver) as base_url, bench_database("paydesk_bench") as (label, url):
        receiver.secret = asyncio.run(seed(url, endpoint_url=f"{base_url}/hooks", events=0)) or ""
        for workers in (1, 2):
            before = asyncio.run(count_delivered(url))
            asyncio.run(seed(url, endpoint_url=None, events=args.events))
            seconds = run_workers(
                url, base_url, workers=workers, batch_size=args.batch_size, seconds=args.seconds
            )
            delivered = asyncio.run(count_delivered(url)) - before
            rates[workers] = delivered / seconds
            table.add_row(label, str(workers), f"{delivered} of {args.events}", f"{seconds:.2f}",
                          f"{rates[workers]:.0f}")  # fmt: skip
            total_delivered += delivered
    # Every delivery recorded as DELIVERED reached the receiver and verified there (a request
    # still in flight when a budget ran out may have reached it without being recorded yet).
    if receiver.refused or receiver.verified < total_delivered:
        raise SystemExit(f"receiver verified {receiver.verified}, refused {receiver.refused}")
    console.print(table)
    console.print(f"every request verified by the receiver ({receiver.verified} signatures)")
    print(
        json.dumps(
            {
                "one_worker_per_s": round(rates[1], 1),
                "two_workers_per_s": round(rates[2], 1),
                "scaling": round(rates[2] / rates[1], 2),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
    else:
        main()
