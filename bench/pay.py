"""How many orders can paydesk create and prepay per second, with its sandbox as WeChat?

One operation is what a shop does for every sale: the merchant backend's ``POST /api/v1/orders``
(API key) and then the mini program user's ``POST /api/v1/orders/{id}/pay`` — which signs a
v3 JSAPI prepay, sends it to WeChat (the sandbox, which verifies it, books the order and signs
its answer), verifies the answer, records the attempt and moves the order to PAYING, and signs
the ``wx.requestPayment`` parameters. ``pay_per_s`` counts operations that completed both calls
(201 then 200 with a ``paySign``) during the measured window; ``pay_p99_ms`` is the p99 of one
operation (both calls, as the shop sees them).

The database is what production runs: a fresh PostgreSQL database (``bench/_database.py``,
dropped afterwards) when the server answers; the embedded SQLite file with ``--sqlite`` or when
it does not (the report says which), or any empty database with ``--database-url``.

By default the parts run as separate processes on this machine, talking HTTP over loopback,
so that every core works as it would in production:

* the sandbox (WeChat): one uvicorn process;
* paydesk: ``--api-processes`` uvicorn processes (default 1 on SQLite, whose writers queue
  fairly only inside one process; 2 on PostgreSQL), each the API app (``create_app``) with the
  sandbox's merchants and apps as its configuration and the sandbox's URL as WeChat's;
* the load generator: this process, ``--concurrency`` tasks of back-to-back operations,
  spread round robin over the paydesk processes, each task on its own keep-alive connection
  through the lean client in ``bench/_loadgen.py`` (httpx would take several times the CPU,
  CPU that paydesk on the same cores would lack; logins, not measured, use httpx).

``--in-process`` runs everything in this one interpreter instead (the embedded ``paydesk
serve`` app, its sandbox mounted, driven through ``httpx.ASGITransport``): no sockets, one core.

Besides the rates it prints the CPU time each process spent per operation (from /proc, over
the measured window) — unlike the rates, comparable on a busy machine.

Users are logged in beforehand (``pay`` is rate-limited per user and login per client address:
each user pays at most 19 orders, and logins come from several loopback addresses).

Usage: ``python bench/pay.py [--seconds 8] [--concurrency 32] [--api-processes N]
[--sqlite | --database-url URL] [--in-process]``. Prints a table, then, as the last line,
``{"pay_per_s": …, "pay_p99_ms": …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.table import Table

from _database import bench_database
from _loadgen import Connection
from paydesk.db.engine import default_sqlite_url
from paydesk.domain.users.limits import LOGIN_PER_CLIENT, PAY_PER_USER
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID
from paydesk.settings import Settings

#: Planned ceiling of the rate, only to decide how many users to log in beforehand.
MAX_RATE = 500
TARGET_PER_S = 200
IN_PROCESS_URL = "http://paydesk.bench"


@dataclass
class Results:
    """Latencies (seconds) of each measured operation and its two calls."""

    operations: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)
    pays: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0


class Reply(Protocol):
    """The part of a response an operation reads (``_loadgen.Response`` or ``httpx.Response``)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class Poster(Protocol):
    """What an operation sends its calls with: a ``_loadgen.Connection`` over a socket, or an
    ``httpx.AsyncClient`` on ``ASGITransport`` in-process."""

    async def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Reply: ...


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the child processes ----------------------------------------------------------------------


def serve_sandbox(port: int, data_dir: Path) -> None:
    """Child: the sandbox on ``port`` (no access log: it would cost more than some requests)."""
    import uvicorn

    from paydesk.sandbox import Sandbox, SandboxCredentials

    box = Sandbox(SandboxCredentials.load_or_create(data_dir / "sandbox"))
    uvicorn.run(box.asgi(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_api(port: int, data_dir: Path, database_url: str, sandbox_url: str) -> None:
    """Child: paydesk on ``port``, configured from the sandbox's keys, the sandbox as WeChat."""
    import uvicorn

    from paydesk.api.app import create_app
    from paydesk.api.embedded import config_from_sandbox
    from paydesk.client import Endpoints
    from paydesk.domain.context import build_services
    from paydesk.sandbox import SandboxCredentials

    settings = Settings(
        data_dir=data_dir, database_url=database_url, public_url=f"http://127.0.0.1:{port}"
    )
    config = config_from_sandbox(SandboxCredentials.load_or_create(data_dir / "sandbox"))
    services = build_services(settings, config, endpoints=Endpoints.sandbox(sandbox_url))
    app = create_app(services)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def spawn(role: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *args], stdout=subprocess.DEVNULL
    )


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"{url} exited with status {process.returncode}")
            try:
                await http.get(url, timeout=1)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise SystemExit(f"{url} did not answer within 30 s")


async def first_api_key(database_url: str) -> str:
    """Migrate the database and make the merchant API key the load generator uses."""
    from paydesk.db.engine import create_engine, session_factory
    from paydesk.db.migrate import upgrade_async
    from paydesk.domain import apikeys
    from paydesk.domain.clock import SystemClock
    from paydesk.domain.ids import IdSource

    engine = create_engine(database_url)
    try:
        await upgrade_async(engine)
        clock = SystemClock()
        async with session_factory(engine).begin() as session:
            plain, _ = await apikeys.create_api_key(
                session, name="bench", mchid=None, ids=IdSource(clock), now=clock.now()
            )
        return plain
    finally:
        await engine.dispose()


# --- the load ---------------------------------------------------------------------------------


async def log_in(
    clients: list[httpx.AsyncClient], sandbox: httpx.AsyncClient, count: int
) -> list[dict[str, str]]:
    """``count`` mini program users' Authorization headers, from the login API; ``clients``
    come from different addresses, each logs in at most the per-address limit."""
    per_client = LOGIN_PER_CLIENT.limit - 1
    if len(clients) * per_client < count:
        raise SystemExit(f"{len(clients)} login addresses cannot log {count} users in")

    async def one(http: httpx.AsyncClient) -> dict[str, str]:
        code = await sandbox.post("/_sandbox/login-code", json={"appid": DEFAULT_MINIPROGRAM_APPID})
        login = await http.post(
            "/api/v1/auth/miniprogram",
            json={"appid": DEFAULT_MINIPROGRAM_APPID, "code": code.json()["code"]},
        )
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['token']}"}

    async def batch(http: httpx.AsyncClient, size: int) -> list[dict[str, str]]:
        return [await one(http) for _ in range(size)]

    sizes = [min(per_client, count - n * per_client) for n in range(len(clients))]
    batches = await asyncio.gather(
        *(batch(c, k) for c, k in zip(clients, sizes, strict=True) if k > 0)
    )
    return [headers for done in batches for headers in done]


def login_addresses(args: Any) -> list[str]:
    """Loopback addresses enough to log ``users_needed`` in under the per-address limit."""
    count = math.ceil(users_needed(args) / (LOGIN_PER_CLIENT.limit - 1))
    return [f"127.0.{n // 250}.{n % 250 + 2}" for n in range(count)]


async def operation(
    http: Poster, merchant: dict[str, str], user: dict[str, str], results: Results
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


async def measure(
    lanes: Sequence[Poster], targets: int, users: list[dict[str, str]], api_key: str, args: Any
) -> Results:
    """Warm up, then run ``--concurrency`` tasks of back-to-back operations for ``--seconds``.

    Task ``i`` sends on ``lanes[i]``; lane ``i`` reaches server ``i % targets``, so the first
    ``targets`` lanes reach each server once (the warm-up goes round robin over them).
    """
    slots = iter(users * (PAY_PER_USER.limit - 1))  # each user pays at most 19 times a minute
    merchant = {"Authorization": f"Bearer {api_key}"}
    warm = Results()
    for index in range(20 * targets):
        await operation(lanes[index % targets], merchant, next(slots), warm)
    if warm.errors:
        raise SystemExit(f"warm-up failed: {warm.errors[0]}")
    results = Results()
    deadline = time.perf_counter() + args.seconds

    async def worker(http: Poster) -> None:
        while time.perf_counter() < deadline:
            user = next(slots, None)
            if user is None:
                return
            await operation(http, merchant, user, results)

    started = time.perf_counter()
    await asyncio.gather(*(worker(lanes[i]) for i in range(args.concurrency)))
    results.elapsed = time.perf_counter() - started
    return results


def users_needed(args: Any) -> int:
    """Enough users for ``MAX_RATE`` operations a second (the warm-up included)."""
    seconds: float = args.seconds
    return math.ceil(MAX_RATE * (seconds + 1) / (PAY_PER_USER.limit - 1)) + 20


async def run_processes(args: Any, data_dir: Path) -> tuple[Results, dict[str, float]]:
    """Sandbox and paydesk in their own processes; the load from this one."""
    database_url = args.database_url
    count = args.api_processes or (1 if database_url.startswith("sqlite") else 2)
    sandbox_url = f"http://127.0.0.1:{free_port()}"
    children = {"sandbox": spawn("sandbox", sandbox_url, str(data_dir))}
    try:
        await wait_ready(f"{sandbox_url}/_sandbox/credentials", children["sandbox"])
        api_key = await first_api_key(database_url)
        api_urls = [f"http://127.0.0.1:{free_port()}" for _ in range(count)]
        for index, url in enumerate(api_urls):
            children[f"paydesk {index + 1}"] = spawn(
                "api", url, str(data_dir), database_url, sandbox_url
            )
        for index, url in enumerate(api_urls):
            await wait_ready(f"{url}/healthz", children[f"paydesk {index + 1}"])
        logins = [
            httpx.AsyncClient(
                base_url=api_urls[n % count],
                transport=httpx.AsyncHTTPTransport(local_address=address),
                timeout=30,
            )
            for n, address in enumerate(login_addresses(args))
        ]
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            users = await log_in(logins, sandbox, users_needed(args))
        pids = {"load generator": os.getpid()} | {k: p.pid for k, p in children.items()}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lanes = [Connection(api_urls[i % count], timeout=30) for i in range(args.concurrency)]
        try:
            results = await measure(lanes, count, users, api_key, args)
            spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        finally:
            for lane in lanes:
                await lane.aclose()
        for http in logins:
            await http.aclose()
        return results, spent
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            child.wait(timeout=10)


async def run_in_process(args: Any, data_dir: Path) -> tuple[Results, dict[str, float]]:
    """Everything in this interpreter: the embedded app, its sandbox mounted, ASGITransport."""
    from paydesk.api.serve import build_runtime

    settings = Settings(
        data_dir=data_dir, public_url=IN_PROCESS_URL, database_url=args.database_url
    )
    runtime = build_runtime(settings)
    api_key = await runtime.prepare()
    if api_key is None:
        raise SystemExit("give an empty database: this one has API keys already")

    def client(address: str = "127.0.0.1", path: str = "") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=runtime.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_URL + path, timeout=30)

    async with runtime.running():
        logins = [client(address) for address in login_addresses(args)]
        sandbox = client(path="/sandbox")
        users = await log_in(logins, sandbox, users_needed(args))
        async with client() as http:
            before = time.process_time()
            results = await measure([http] * args.concurrency, 1, users, api_key, args)
            spent = {"this process": time.process_time() - before}
        for other in [*logins, sandbox]:
            await other.aclose()
    return results, spent


def report(args: Any, results: Results, spent: dict[str, float]) -> dict[str, float]:
    elapsed, done = results.elapsed, len(results.operations)
    if done == 0:
        raise SystemExit(f"no operation completed: {results.errors[:3]}")
    where = "in-process" if args.in_process else "processes over loopback"
    table = Table(
        title=f"paydesk: orders created and prepaid ({where}, {args.database_label}, "
        "sandbox as WeChat)"
    )
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
    cpu = ", ".join(f"{name} {seconds * 1000 / done:.1f}" for name, seconds in spent.items())
    console.print(f"CPU ms per operation: {cpu}")
    rate = done / elapsed
    console.print(
        f"{args.concurrency} concurrent tasks for {elapsed:.1f} s; errors: "
        f"{len(results.errors)}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
        f"CPUs; target ≥ {TARGET_PER_S}/s: {'met' if rate >= TARGET_PER_S else 'MISSED'}"
    )
    for error in results.errors[:5]:
        console.print(f"[red]{error}[/red]")
    return {
        "pay_per_s": round(rate, 1),
        "pay_p99_ms": round(percentile(results.operations, 0.99) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--api-processes", type=int, default=0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite file")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--role", choices=("sandbox", "api"), help=argparse.SUPPRESS)
    parser.add_argument("role_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "sandbox":
        url, data_dir = args.role_args
        serve_sandbox(int(url.rpartition(":")[2]), Path(data_dir))
        return
    if args.role == "api":
        url, data_dir, database_url, sandbox_url = args.role_args
        serve_api(int(url.rpartition(":")[2]), Path(data_dir), database_url, sandbox_url)
        return
    with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as tmp, ExitStack() as stack:
        if args.database_url is not None:
            args.database_label = "the database given"
        elif args.sqlite:
            args.database_label = "SQLite"
            args.database_url = default_sqlite_url(Path(tmp))  # migrated by the run
        else:
            args.database_label, args.database_url = stack.enter_context(
                bench_database("paydesk_bench_pay")
            )
        run = run_in_process if args.in_process else run_processes
        results, spent = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(report(args, results, spent)))


if __name__ == "__main__":
    main()
