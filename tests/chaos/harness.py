"""The chaos run's equipment: one clock that can jump, servers in the test's event loop, a
flaky network to paydesk, a config file for worker processes, and the worker processes.

Everything that must share time runs on :class:`OffsetClock` — paydesk's services, the
sandbox's wall (and so its virtual time), the webhook receiver's signature check — so that a
jump of three hours moves expiries, retries and signatures together. Worker *processes* use
the system clock, so they run only while the offset is still zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from paydesk.sandbox import SandboxCredentials

Scope = dict[str, Any]


class OffsetClock:
    """The system clock plus an offset that only grows: ``jump(3600)`` is an hour later."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """Aware UTC now, offset."""
        return datetime.now(UTC) + self.offset

    def unix(self) -> int:
        """Unix seconds now, offset (the webhook receiver's clock)."""
        return int(self.now().timestamp())

    def jump(self, seconds: float) -> None:
        """Move forward ``seconds``."""
        self.offset += timedelta(seconds=seconds)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Between the sandbox and paydesk's notify URLs: answers 503 itself for a seeded share of
    requests (paydesk "down"), passes the rest to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, probability: float, seed: int) -> None:
        self.inner = inner
        self.probability = probability
        self.rng = random.Random(seed)
        self.failed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.probability and self.rng.random() < self.probability:
            self.failed += 1
            return httpx.Response(503, text="paydesk is restarting", request=request)
        return await self.inner.handle_async_request(request)


class LoopServer(uvicorn.Server):
    """uvicorn in the *current* event loop, leaving the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port from this event loop; yields its base URL.

    In this loop, not a thread: the sandbox's state (and its asyncio objects) belong here.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, backlog=2048, ws="none"
    )
    server = LoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
        sock.close()


def route(apps: Mapping[str, Any]) -> Any:
    """An ASGI app sending each request to the app of its path's first segment (``/m1/…``)."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        target = apps.get(scope["path"].strip("/").split("/")[0])
        if target is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"no such receiver"})
            return
        await target(scope, receive, send)

    return app


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    directory: Path,
    credentials: SandboxCredentials,
    *,
    api_versions: Mapping[str, str],
    auto_refund: frozenset[str] = frozenset(),
) -> Path:
    """A ``PAYDESK_CONFIG_FILE`` with every sandbox merchant and app, keys in files beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def secret_file(name: str, text: str) -> str:
        (directory / name).write_text(text, "utf-8")
        return f"{{ file = {_toml(name)} }}"

    for m in credentials.merchants:
        lines += [
            "[[merchants]]",
            f"mchid = {_toml(m.mchid)}",
            f"api_version = {_toml(api_versions.get(m.mchid, 'v3'))}",
            f"serial_no = {_toml(m.merchant_serial_no)}",
            f"private_key = {secret_file(f'{m.mchid}_key.pem', m.merchant_private_key_pem)}",
            f"certificate = {secret_file(f'{m.mchid}_cert.pem', m.merchant_certificate_pem)}",
            f"apiv3_key = {_toml(m.apiv3_key)}",
            f"v2_key = {_toml(m.v2_key)}",
            f"auto_refund_anomalies = {'true' if m.mchid in auto_refund else 'false'}",
        ]
        if m.platform_public_key_pem and m.platform_public_key_id:
            key = secret_file(f"{m.mchid}_pub_key.pem", m.platform_public_key_pem)
            lines += [
                f"platform_public_key_id = {_toml(m.platform_public_key_id)}",
                f"platform_public_key = {key}",
            ]
        if m.platform_certificate_pem:
            cert = secret_file(f"{m.mchid}_platform.pem", m.platform_certificate_pem)
            lines.append(f"platform_certificates = [{cert}]")
        lines.append("")
    for a in credentials.apps:
        merchants = ", ".join(_toml(mchid) for mchid in a.merchants)
        lines += [
            "[[apps]]",
            f"appid = {_toml(a.appid)}",
            f"type = {_toml(a.type)}",
            f"secret = {_toml(a.secret)}",
            f"merchants = [{merchants}]",
            "",
        ]
    path = directory / "paydesk.toml"
    path.write_text("\n".join(lines), "utf-8")
    return path


def handles_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a SIGTERM handler installed (Linux: ``SigCgt`` in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text("ascii")
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


class WorkerProcesses:
    """``python -m paydesk worker`` processes against the run's database and sandbox."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.running: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        """One more worker process (short leases, so a killed one's claims come back quickly)."""
        command = [sys.executable, "-m", "paydesk", "worker", "--lease", "3", "--timeout", "2",
                   "--idle-sleep", "0.1", "--log-level", "WARNING"]  # fmt: skip
        with self.log.open("ab") as sink:
            process = subprocess.Popen(command, env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    async def start(self, patience: float = 60) -> subprocess.Popen[bytes]:
        """:meth:`spawn`, returned once the worker handles SIGTERM: until then Python's default
        action would kill a worker still importing (it happened on a loaded machine), which is
        not the clean stop :meth:`stop_all` checks."""
        process = self.spawn()
        deadline = asyncio.get_running_loop().time() + patience
        while not handles_sigterm(process.pid):
            if process.poll() is not None or asyncio.get_running_loop().time() > deadline:
                output = self.output()
                raise RuntimeError(f"a worker did not start (exit {process.poll()}):\n{output}")
            await asyncio.sleep(0.05)
        return process

    async def kill_one(self) -> None:
        """``kill -9`` the oldest worker, mid-whatever-it-is-doing."""
        process = self.running.pop(0)
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
        self.kills += 1

    async def stop_all(self, patience: float = 30) -> list[int]:
        """SIGTERM every worker and wait (they finish their round); their exit codes.

        The wait leaves the event loop free: a worker finishing its round may still be
        asking the sandbox, which this loop serves.
        """
        for process in self.running:
            process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.running:
            try:
                codes.append(await asyncio.to_thread(process.wait, patience))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(await asyncio.to_thread(process.wait, 10))
        self.running = []
        return codes

    def output(self) -> str:
        """What the workers printed (for a failure message)."""
        return self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""
