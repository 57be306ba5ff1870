"""How many orders can paydesk create and prepay per second, with its sandbox as WeChat?

One operation is what a shop does for every sale: the merchant backend's ``POST /api/v1/orders``
(API key) and then the mini program user's ``POST /api/v1/orders/{id}/pay`` — which signs a
v3 JSAPI prepay, sends it to WeChat (the sandbox, which verifies it, books the order and signs
its answer), verifies the answer, records the attempt and moves the order to PAYING, and signs
the ``wx.requestPayment`` parameters.

Everything runs **in-process** in one interpreter: the app ``paydesk serve`` runs (embedded
defaults: SQLite in a temporary data directory, in-memory cache, the sandbox mounted at
``/sandbox``), driven through ``httpx.ASGITransport`` by ``--concurrency`` tasks; the app reaches
its sandbox in-process too. No sockets, so the figure is paydesk's own cost, not the loopback's.

Users are logged in beforehand (a few hundred, because ``pay`` is rate-limited per user and
login per client address: each user pays at most 19 orders; their logins come from several
in-process client addresses of 127.0.0.0/8).

Usage: ``python bench/pay.py [--seconds 8] [--concurrency 16] [--database-url URL]`` (an empty
database, e.g. PostgreSQL, instead of the embedded SQLite file). Prints a table, then, as the
last line, ``{"pay_per_s": …, "pay_p99_ms": …}`` (p99 of one create-and-prepay operation).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from paydesk.api.serve import Runtime, build_runtime
from paydesk.domain.users.limits import LOGIN_PER_CLIENT, PAY_PER_USER
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID
from paydesk.settings import Settings

BASE_URL = "http://paydesk.bench"
#: Planned ceiling of the rate, only to decide how many users to log in beforehand.
MAX_RATE = 500
TARGET_PER_S = 200


@dataclass
class Results:
    """Latencies (seconds) of each measured operation and its two calls."""

    operations: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)
    pays: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def client(runtime: Runtime, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """An in-process client that looks, to the app, like it comes from ``address``."""
    transport = httpx.ASGITransport(app=runtime.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=30)


async def log_in(runtime: Runtime, count: int) -> list[dict[str, str]]:
    """``count`` mini program users' Authorization headers, from the login API."""
    per_address = LOGIN_PER_CLIENT.limit - 1
    headers: list[dict[str, str]] = []
    for batch in range(math.ceil(count / per_address)):
        address = f"127.0.{batch // 250}.{batch % 250 + 2}"
        async with client(runtime, address) as http:
            for _ in range(min(per_address, count - len(headers))):
                code = await http.post(
                    "/sandbox/_sandbox/login-code", json={"appid": DEFAULT_MINIPROGRAM_APPID}
                )
                login = await http.post(
                    "/api/v1/auth/miniprogram",
                    json={"appid": DEFAULT_MINIPROGRAM_APPID, "code": code.json()["code"]},
                )
                login.raise_for_status()
                headers.append({"Authorization": f"Bearer {login.json()['token']}"})
    return headers


async def operation(
    http: httpx.AsyncClient, merchant: dict[str, str], user: dict[str, str], results: Results
) -> None:
    """Create one order as the merchant and prepay it as the user; record the latencies."""
    began = time.perf_counter()
    created = await http.post(
        "/api/v1/orders",
        json={
            "merchant_order_id": f"bench-{uuid.uuid4().hex}",
            "amount": 100,
            "description": "bench",
            "appid": DEFAULT_MINIPROGRAM_APPID,
        },
        headers=merchant,
    )
    middle = time.perf_counter()
    if created.status_code != 201:
        results.errors.append(f"create {created.status_code} {created.text[:200]}")
        return
    paid = await http.post(
        f"/api/v1/orders/{created.json()['id']}/pay", json={"channel": "miniprogram"}, headers=user
    )
    ended = time.perf_counter()
    if paid.status_code != 200 or "paySign" not in paid.json().get("params", {}):
        results.errors.append(f"pay {paid.status_code} {paid.text[:200]}")
        return
    results.creates.append(middle - began)
    results.pays.append(ended - middle)
    results.operations.append(ended - began)


async def measure(runtime: Runtime, api_key: str, seconds: float, concurrency: int) -> Results:
    """Run ``concurrency`` tasks of back-to-back operations for ``seconds``."""
    per_user = PAY_PER_USER.limit - 1
    users = await log_in(runtime, math.ceil(MAX_RATE * (seconds + 1) / per_user) + concurrency)
    user_slots = iter(users * per_user)  # round robin: each user pays at most per_user times
    merchant = {"Authorization": f"Bearer {api_key}"}
    async with client(runtime) as http:
        warm = Results()
        for _ in range(20):
            await operation(http, merchant, next(user_slots), warm)
        if warm.errors:
            raise SystemExit(f"warm-up failed: {warm.errors[0]}")
        results = Results()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                user = next(user_slots, None)
                if user is None:
                    return
                await operation(http, merchant, user, results)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        results.elapsed = time.perf_counter() - started
    return results


async def main(seconds: float, concurrency: int, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), public_url=BASE_URL, database_url=database_url)
        runtime = build_runtime(settings)
        api_key = await runtime.prepare()
        if api_key is None:
            raise SystemExit("give an empty database: this one has API keys already")
        async with runtime.running():
            results = await measure(runtime, api_key, seconds, concurrency)
    elapsed = results.elapsed
    done = len(results.operations)
    rate = done / elapsed
    table = Table(title="paydesk: orders created and prepaid (in-process, sandbox as WeChat)")
    for column in ("what", "count", "per s", "p50 ms", "p99 ms", "mean ms"):
        table.add_column(column, justify="right")
    for name, values in (
        ("create + pay", results.operations),
        ("POST /orders", results.creates),
        ("POST /orders/{id}/pay", results.pays),
    ):
        table.add_row(
            name,
            str(len(values)),
            f"{len(values) / elapsed:.0f}",
            f"{percentile(values, 0.50) * 1000:.1f}",
            f"{percentile(values, 0.99) * 1000:.1f}",
            f"{statistics.fmean(values) * 1000:.1f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"{concurrency} concurrent tasks for {elapsed:.1f} s; errors: {len(results.errors)}; "
        f"target ≥ {TARGET_PER_S}/s: {'met' if rate >= TARGET_PER_S else 'MISSED'}"
    )
    for error in results.errors[:5]:
        console.print(f"[red]{error}[/red]")
    return {
        "pay_per_s": round(rate, 1),
        "pay_p99_ms": round(percentile(results.operations, 0.99) * 1000, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    figures = asyncio.run(main(args.seconds, args.concurrency, args.database_url))
    print(json.dumps(figures))
