"""Headless Chromium against ``paydesk serve`` over real HTTP (marker ``browser``).

The app is the embedded one (the sandbox mounted at ``/sandbox`` and used as WeChat) served by
uvicorn on a free loopback port, on a SQLite file of its own. The browser is Debian's
``/usr/bin/chromium`` driven by Playwright — never a downloaded one (``playwright install``
is not used anywhere). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from paydesk.sandbox import SandboxCredentials
from tests.browser.support import Cashier, ShiftedClock
from tests.serving import serve_embedded

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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def cashier(
    tmp_path_factory: pytest.TempPathFactory, sandbox_credentials: SandboxCredentials
) -> Iterator[Cashier]:
    """``paydesk serve``'s app under uvicorn on a free port, with a fresh SQLite database."""
    clock = ShiftedClock()
    data_dir = tmp_path_factory.mktemp("cashier-browser")
    with serve_embedded(data_dir, sandbox_credentials, clock) as (base_url, api_key):
        yield Cashier(base_url, api_key, clock)


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
