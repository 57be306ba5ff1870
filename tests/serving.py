"""Helpers for tests that serve over real HTTP: free ports, uvicorn in a thread, a config file.

port = free_port()
runtime = build_runtime(Settings(public_url=f"http://127.0.0.1:{port}", ...))
with ServerThread(runtime.app, port) as server:
    httpx.get(f"{server.base_url}/healthz")

An app that need not know its own URL in advance takes any free port: ``ServerThread(app)``.
``serve_embedded`` does all of it for ``paydesk serve``'s embedded app (the sandbox as WeChat).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from paydesk.api.serve import build_runtime
from paydesk.domain.clock import Clock
from paydesk.sandbox import SandboxCredentials
from paydesk.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1:``port`` (default: a free one) in a background
    thread, lifespan on."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def in_own_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a thread of its own: where an event loop may already be
    running on this thread (Playwright's sync API keeps one), ``asyncio.run`` cannot be used."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(lambda: asyncio.run(work())).result(timeout=60)
    finally:
        # Not ``with``: its exit would wait for the thread, forever if the work hangs, and
        # turn the timeout above into a hung test run.
        pool.shutdown(wait=False)


@contextmanager
def serve_embedded(
    data_dir: Path, credentials: SandboxCredentials, clock: Clock | None = None
) -> Iterator[tuple[str, str]]:
    """``paydesk serve``'s embedded app (the sandbox as WeChat, a SQLite file in ``data_dir``)
    under uvicorn on a free port; yields its base URL and its first API key."""
    port = free_port()
    settings = Settings(data_dir=data_dir, public_url=f"http://127.0.0.1:{port}")
    runtime = build_runtime(settings, sandbox_credentials=credentials, clock=clock)
    api_key = in_own_thread(runtime.prepare)
    assert api_key is not None
    with ServerThread(runtime.app, port) as server:
        yield server.base_url, api_key


def write_config_file(directory: Path, credentials: SandboxCredentials) -> Path:
    """A TOML config of the sandbox's first merchant and mini program, secrets in files."""
    merchant = credentials.merchants[0]
    app = next(a for a in credentials.apps if a.type == "miniprogram")
    secrets = {
        "apiclient_key.pem": merchant.merchant_private_key_pem,
        "apiclient_cert.pem": merchant.merchant_certificate_pem,
        "pub_key.pem": merchant.platform_public_key_pem or "",
    }
    for name, text in secrets.items():
        (directory / name).write_text(text, "utf-8")
    path = directory / "paydesk.toml"
    path.write_text(
        f"""
[[merchants]]
mchid = "{merchant.mchid}"
serial_no = "{merchant.merchant_serial_no}"
private_key = {{ file = "apiclient_key.pem" }}
certificate = {{ file = "apiclient_cert.pem" }}
apiv3_key = "{merchant.apiv3_key}"
platform_public_key_id = "{merchant.platform_public_key_id}"
platform_public_key = {{ file = "pub_key.pem" }}

[[apps]]
appid = "{app.appid}"
type = "miniprogram"
secret = "{app.secret}"
merchants = ["{merchant.mchid}"]
""",
        "utf-8",
    )
    return path
