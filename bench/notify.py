"""How many signed v3 payment notifications paydesk applies per second, against a bare UPDATE.

**paydesk**: ``create_app`` on PostgreSQL (a temporary database, dropped afterwards), serving
``POST /api/v1/notify/wechatpay/v3/{mchid}``. Every request is a ``TRANSACTION.SUCCESS`` for a
*distinct* order (orders and prepay attempts created beforehand, PAYING), sealed with the
sandbox credentials' platform key (RSA-2048) and the merchant's APIv3 key, exactly as WeChat
sends it. paydesk does all of its work: verify the signature and timestamp, decrypt, check
merchant / app / trade number / amount, one compare-and-set transition with its order_event
and outbox row, and the raw notification row — one transaction.

**baseline**: FastAPI + an asyncpg pool (the same size as paydesk's), one endpoint that reads
the body and runs one ``UPDATE orders SET state = 'PAID' … WHERE out_trade_no = $1 AND state =
'PAYING'`` — on its own distinct orders of the same table. It is sent the same requests as
paydesk (a sealed notification's ``Wechatpay-*`` headers and body), so both servers parse the
same bytes. No verification, no decryption, no history: the floor of any handler that touches
the database.

**Load generator** (the same for both): keep-alive connections of the lean client in
``bench/_loadgen.py`` (httpx would burn more CPU per request than the baseline server on the
same two cores, and cap it) in this process with ``--concurrency`` tasks, over **real HTTP on
loopback** to uvicorn (one worker, default loop
and HTTP implementation, identical settings) running in a **child process** per app. Maximum
rates are measured in interleaved rounds (baseline, paydesk, baseline, …; the median round
counts, so a noisy neighbour on a 2-core box hurts both alike); as each order is notified
once, a round ends after ``--seconds`` or its share of the prepared orders. Then paydesk gets an
**open-loop** load at half its measured maximum: request *i* is due at ``t0 + i / rate`` and
its latency runs from when it was due (so a stall is not hidden by the client waiting), and
the p99 of that is reported. The generator's own ceiling (the same client against an endpoint
that only answers 204) is printed so a reader can tell when it, not the server, was the limit.
Every paydesk answer must be 204 and every order PAID, or the run fails.

Usage: ``python bench/notify.py [--seconds 2] [--rounds 5] [--concurrency 16]`` (PostgreSQL at
``PAYDESK_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``). The
last line is JSON: ``{"notify_per_s", "baseline_per_s", "notify_vs_baseline",
"notify_p99_ms_at_half_load"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from _database import admin_url, postgres_database
from _loadgen import Pool
from paydesk.db.engine import create_engine
from paydesk.db.models import Notification, Order, Payment
from paydesk.domain.clock import SystemClock
from paydesk.domain.ids import IdSource
from paydesk.protocol import keys, times
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.notify import seal_notification
from paydesk.sandbox.credentials import SandboxCredentials

APPID = "wx5a0d5a0d00000001"
AMOUNT = 1999
BASELINE_SQL = (
    "UPDATE orders SET state = 'PAID', version = version + 1, updated_at = now()"
    " WHERE out_trade_no = $1 AND state = 'PAYING'"
)


# --- the two servers (each runs in a child process: ``notify.py --serve …``) ----------------


def paydesk_app(url: str, credentials_file: str, data_dir: str) -> Any:
    """paydesk's own app, configured from the sandbox credentials, on database ``url``."""
    from paydesk.api import create_app
    from paydesk.api.embedded import config_from_sandbox
    from paydesk.domain.context import build_services
    from paydesk.settings import Settings

    credentials = SandboxCredentials.from_json(json.loads(Path(credentials_file).read_text()))
    settings = Settings(database_url=url, data_dir=Path(data_dir), public_url="http://127.0.0.1")
    return create_app(build_services(settings, config_from_sandbox(credentials)))


def baseline_app(dsn: str) -> Any:
    """FastAPI + asyncpg: read the body, one conditional UPDATE, 204."""
    pool: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool["db"] = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        yield
        await pool["db"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/notify/{out_trade_no}", status_code=204, response_class=Response)
    async def notify(out_trade_no: str, request: Request) -> Response:
        await request.body()
        await pool["db"].execute(BASELINE_SQL, out_trade_no)
        return Response(status_code=204)

    @app.post("/null", status_code=204, response_class=Response)
    async def null(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    return app


def serve(argv: Sequence[str]) -> None:
    """Child process: run one app under uvicorn until terminated."""
    import uvicorn

    kind, port = argv[0], int(argv[1])
    app = paydesk_app(*argv[2:5]) if kind == "paydesk" else baseline_app(argv[2])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=300,  # the client's pooled connections must survive the pauses
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def child(*args: str) -> Iterator[str]:
    """Start ``notify.py --serve *args`` on a free port; yield its base URL; stop it."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", args[0], str(port), *args[1:]],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the {args[0]} server exited with {process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the {args[0]} server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the database and what is in it ---------------------------------------------------------


@contextlib.contextmanager
def bench_database() -> Iterator[tuple[str, str]]:
    """``(sqlalchemy_url, asyncpg_dsn)`` of a fresh migrated PostgreSQL database; dropped after."""
    admin = admin_url()
    with postgres_database(admin, "paydesk_bench_notify") as url:
        dsn = make_url(admin).set(database=make_url(url).database)
        yield url, dsn.render_as_string(hide_password=False)


async def seed(url: str, mchid: str, count: int, *, with_payments: bool) -> list[str]:
    """``count`` PAYING orders (and their prepay attempts); their trade numbers."""
    ids = IdSource(SystemClock())
    now = datetime.now(UTC)
    orders, payments, numbers = [], [], []
    for index in range(count):
        order_id, number = ids.new("ord"), ids.out_trade_no()
        numbers.append(number)
        orders.append(
            {
                "id": order_id,
                "out_trade_no": number,
                "mchid": mchid,
                "appid": APPID,
                "merchant_order_id": f"bench-{with_payments}-{index}",
                "amount": AMOUNT,
                "currency": "CNY",
                "description": "bench",
                "metadata": {},
                "state": "PAYING",
                "api_version": "v3",
                "version": 1,
                "refunded_amount": 0,
                "expires_at": now + timedelta(hours=2),
                "created_at": now,
                "updated_at": now,
            }
        )
        payments.append(
            {
                "id": ids.new("pay"),
                "order_id": order_id,
                "out_trade_no": number,
                "channel": "miniprogram",
                "api_version": "v3",
                "appid": APPID,
                "mchid": mchid,
                "openid": "oBench000000000000000000000",
                "prepay_id": f"wx{index:030d}",
                "params_hash": "0" * 64,
                "expires_at": now + timedelta(hours=2),
                "created_at": now,
            }
        )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Order), orders)
            if with_payments:
                await connection.execute(insert(Payment), payments)
    finally:
        await engine.dispose()
    return numbers


def seal_all(
    credentials: SandboxCredentials, mchid: str, numbers: Sequence[str]
) -> list[tuple[dict[str, str], bytes]]:
    """One signed ``TRANSACTION.SUCCESS`` per trade number, as WeChat would send it."""
    merchant = credentials.merchant(mchid)
    assert merchant is not None
    platform_key = keys.load_private_key(merchant.platform_private_key_pem)
    cipher = Apiv3Cipher(merchant.apiv3_key)
    now = datetime.now(UTC)
    sealed = []
    for index, number in enumerate(numbers):
        transaction = {
            "appid": APPID,
            "mchid": mchid,
            "out_trade_no": number,
            "transaction_id": f"42{index:026d}",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": times.to_rfc3339_beijing(now),
            "payer": {"openid": "oBench000000000000000000000"},
            "amount": {"total": AMOUNT, "payer_total": AMOUNT, "currency": "CNY"},
        }
        sealed.append(
            seal_notification(
                event_id=f"EV-{index:012d}",
                create_time=times.to_rfc3339_beijing(now),
                event_type="TRANSACTION.SUCCESS",
                summary="支付成功",
                original_type="transaction",
                associated_data="transaction",
                resource_plaintext=json.dumps(transaction).encode(),
                cipher=cipher,
                resource_nonce=f"{index:012d}",
                platform_key=platform_key,
                serial=merchant.platform_serial,
                timestamp=times.to_unix(now),
                sign_nonce=f"N{index:031d}",
            )
        )
    return sealed


# --- the load generator ---------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to make: ``POST base + path``."""

    base: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Run:
    """What one round measured."""

    sent: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Completed requests per second."""
        return self.sent / self.seconds if self.seconds else 0.0

    def p(self, fraction: float) -> float:
        """A latency percentile in ms (nearest rank)."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def _one(pool: Pool, call: Call, run: Run, started: float) -> None:
    async with pool.connection() as connection:
        response = await connection.post(call.path, content=call.body, headers=call.headers)
    run.latencies_ms.append((time.perf_counter() - started) * 1000)
    run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1


async def closed_loop(
    pools: dict[str, Pool], calls: Iterator[Call], seconds: float, concurrency: int
) -> Run:
    """``concurrency`` tasks sending back to back for ``seconds`` (or until calls run out)."""
    run = Run()
    start = time.perf_counter()
    stop = start + seconds

    async def worker() -> None:
        for call in calls:
            await _one(pools[call.base], call, run, time.perf_counter())
            run.sent += 1
            if time.perf_counter() >= stop:
                return

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - start
    return run


async def open_loop(
    pools: dict[str, Pool], calls: Iterator[Call], rate: float, seconds: float
) -> Run:
    """Request *i* due at ``t0 + i / rate``; latency measured from when it was due."""
    run = Run()
    tasks = []
    start = time.perf_counter()
    for index, call in enumerate(calls):
        due = start + index / rate
        if due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(pools[call.base], call, run, due)))
        run.sent += 1
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - start
    return run


# --- the run --------------------------------------------------------------------------------


async def measure(
    paydesk_url: str,
    baseline_url: str,
    sealed: list[tuple[dict[str, str], bytes]],
    baseline_numbers: list[str],
    mchid: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Interleaved max-rate rounds, then paydesk at half its rate; returns every figure.

    Each order is notified once, so each side has a budget: a max-rate round ends after
    ``--seconds`` or its share of the budget, whichever comes first; the half-load run gets
    what is left (and is shortened if that is not enough for ``--half-seconds``).
    """
    notify_path = f"/api/v1/notify/wechatpay/v3/{mchid}"
    paydesk_calls = iter(
        [Call(paydesk_url, notify_path, body, headers) for headers, body in sealed]
    )
    # The baseline gets the same requests as paydesk (a sealed notification's headers and
    # body), so both servers parse the same bytes: only what is done with them differs.
    baseline_calls = iter(
        [
            Call(baseline_url, f"/notify/{n}", *reversed(sealed[i % len(sealed)]))
            for i, n in enumerate(baseline_numbers)
        ]
    )
    headers, body = sealed[0]
    null_calls = itertools.repeat(Call(baseline_url, "/null", body, headers))
    warm_budget = 50
    paydesk_round = (len(sealed) - warm_budget) * 3 // 5 // args.rounds
    baseline_round = (len(baseline_numbers) - warm_budget) // args.rounds
    pools = {url: Pool(url) for url in (paydesk_url, baseline_url)}
    try:

        async def burst(calls: Iterator[Call], seconds: float, budget: int) -> Run:
            return await closed_loop(
                pools, itertools.islice(calls, budget), seconds, args.concurrency
            )

        await burst(null_calls, 0.3, 10_000)  # warm up the client and both servers
        await burst(baseline_calls, 0.3, warm_budget)
        warm = await burst(paydesk_calls, 0.3, warm_budget)
        ceiling = await burst(null_calls, args.seconds, 1_000_000)
        baseline_runs, paydesk_runs = [], []
        for _ in range(args.rounds):
            baseline_runs.append(await burst(baseline_calls, args.seconds, baseline_round))
            paydesk_runs.append(await burst(paydesk_calls, args.seconds, paydesk_round))
        notify_per_s = statistics.median(r.per_second for r in paydesk_runs)
        left = list(paydesk_calls)
        seconds = min(args.half_seconds, len(left) / (notify_per_s / 2))
        half = await open_loop(pools, iter(left), notify_per_s / 2, seconds)
    finally:
        for pool in pools.values():
            await pool.aclose()
    return {
        "ceiling": ceiling,
        "baseline": baseline_runs,
        "paydesk": paydesk_runs,
        "half": half,
        "half_seconds": seconds,
        "warm": warm,
        "notify_per_s": notify_per_s,
        "baseline_per_s": statistics.median(r.per_second for r in baseline_runs),
    }


async def check(url: str, mchid: str, runs: Sequence[Run]) -> None:
    """Every paydesk answer was 204, and that many orders are PAID with an applied row."""
    sent = sum(r.sent for r in runs)
    statuses: dict[int, int] = {}
    for run in runs:
        for status, count in run.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    if statuses != {204: sent}:
        raise SystemExit(f"paydesk answered {statuses}, expected {sent} × 204")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            paid = await connection.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.mchid == mchid, Order.state == "PAID")
            )
            applied = await connection.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.verdict == "applied")
            )
    finally:
        await engine.dispose()
    if paid != sent or applied != sent:
        raise SystemExit(f"{sent} notifications sent, but {paid} orders PAID, {applied} applied")


def main() -> None:
    """Parse arguments, set everything up, measure, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per max-rate round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--half-seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--notifications", type=int, default=2400)
    parser.add_argument("--baseline-orders", type=int, default=8000)
    args = parser.parse_args()

    started = time.perf_counter()
    credentials = SandboxCredentials.generate()
    mchid = credentials.merchants[0].mchid  # public-key mode, like most merchants today
    with bench_database() as (url, dsn), tempfile.TemporaryDirectory() as directory:
        numbers = asyncio.run(seed(url, mchid, args.notifications, with_payments=True))
        baseline_numbers = asyncio.run(
            seed(url, credentials.merchants[1].mchid, args.baseline_orders, with_payments=False)
        )
        sealed = seal_all(credentials, mchid, numbers)
        credentials_file = Path(directory) / "credentials.json"
        credentials_file.write_text(json.dumps(credentials.to_json()))
        prepared = time.perf_counter() - started
        with (
            child("paydesk", url, str(credentials_file), directory) as paydesk_url,
            child("baseline", dsn) as baseline_url,
        ):
            figures = asyncio.run(
                measure(paydesk_url, baseline_url, sealed, baseline_numbers, mchid, args)
            )
        asyncio.run(check(url, mchid, [figures["warm"], *figures["paydesk"], figures["half"]]))
    report(figures, prepared, time.perf_counter() - started, args)


def report(figures: dict[str, Any], prepared: float, total: float, args: Any) -> None:
    """The table, then the JSON line."""
    half: Run = figures["half"]
    print(f"prepared in {prepared:.1f} s (database, orders, RSA-signed notifications)")
    print(
        "load: bench/_loadgen.py keep-alive connections, real HTTP on loopback to uvicorn"
        " (1 worker each, in child processes)"
    )
    print(f"{'':28}{'req/s (rounds)':>40}{'last round p50 / p99 ms':>26}")
    rows = [
        ("client ceiling (no-op 204)", [figures["ceiling"]]),
        ("baseline (1 UPDATE)", figures["baseline"]),
        ("paydesk notify (v3)", figures["paydesk"]),
    ]
    for label, runs in rows:
        rates = ", ".join(f"{r.per_second:.0f}" for r in runs)
        print(f"{label:28}{rates:>40}{runs[-1].p(0.5):>17.1f}{runs[-1].p(0.99):>9.1f}")
    rate = half.sent / figures["half_seconds"]
    print(
        f"paydesk at half load: {half.sent} requests at {rate:.0f}/s,"
        f" p50 {half.p(0.5):.1f} ms, p99 {half.p(0.99):.1f} ms (from due time)"
    )
    print(f"total {total:.1f} s")
    ratio = figures["notify_per_s"] / figures["baseline_per_s"]
    print(
        json.dumps(
            {
                "notify_per_s": round(figures["notify_per_s"], 1),
                "baseline_per_s": round(figures["baseline_per_s"], 1),
                "notify_vs_baseline": round(ratio, 3),
                "notify_p99_ms_at_half_load": round(half.p(0.99), 1),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
    else:
        main()
