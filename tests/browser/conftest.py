"""Headless Chromium against ``paydesk serve`` over real HTTP (marker ``browser``).

The app is the embedded one (the sandbox mounted at ``/sandbox`` and used as WeChat) served by
uvicorn on a free loopback port, on a SQLite file of its own. The browser is Debian's
``/usr/bin/chromium`` driven by Playwright — never a downloaded one (``playwright install``
is not used anywhere). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, sync_playwright

from paydesk.api.serve import build_runtime
from paydesk.sandbox import SandboxCredentials
from paydesk.settings import Settings
from tests.browser.support import Cashier, ShiftedClock
from tests.serving import ServerThread, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def in_own_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a thread of its own: Playwright's sync API keeps an
    event loop running on the main thread, so ``asyncio.run`` cannot be used there."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result(timeout=60)


@pytest.fixture(scope="module")
def cashier(
    tmp_path_factory: pytest.TempPathFactory, sandbox_credentials: SandboxCredentials
) -> Iterator[Cashier]:
    """``paydesk serve``'s app under uvicorn on a free port, with a fresh SQLite database."""
    port = free_port()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("cashier-browser"),
        public_url=f"http://127.0.0.1:{port}",
    )
    clock = ShiftedClock()
    runtime = build_runtime(settings, sandbox_credentials=sandbox_credentials, clock=clock)
    api_key = in_own_thread(runtime.prepare)
    assert api_key is not None
    with ServerThread(runtime.app, port) as server:
        yield Cashier(server.base_url, api_key, clock)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; stopped after each module, because Playwright's sync API
    keeps an event loop running on the main thread while it lives (and ``asyncio.run`` in
    later tests and doctests would fail)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium fonts-wqy-microhei")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/``, emptied of old cashier screenshots once per run."""
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("cashier-*.png"):
        old.unlink()
    return ARTIFACTS
