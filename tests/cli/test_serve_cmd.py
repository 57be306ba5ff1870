"""``paydesk serve``: a real process on a free port with a fresh data directory — healthy, the
sandbox mounted, docs served, the URLs and a working API key printed on the first start only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from paydesk.api.serve import build_runtime
from paydesk.cli import app
from paydesk.cli.serve_cmd import startup_lines
from paydesk.sandbox import SandboxCredentials
from paydesk.settings import Settings
from tests.serving import free_port, write_config_file

KEY = re.compile(r"pdk_[0-9A-Z]{52}")
CLEARED = ("CONFIG_FILE", "DATABASE_URL", "ENVIRONMENT", "PUBLIC_URL", "SANDBOX", "REDIS_URL")


def clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.removeprefix("PAYDESK_") not in CLEARED}
    return {**env, "PAYDESK_DATA_DIR": str(data_dir), "COLUMNS": "200"}


@pytest.fixture
def in_process_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``clean_env`` for a ``serve`` invoked in this process: the cleared settings unset."""
    for name, value in clean_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    for name in CLEARED:
        monkeypatch.delenv(f"PAYDESK_{name}", raising=False)


def start(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``python -m paydesk serve`` on a free port; waits for /healthz."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paydesk", "serve", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(data_dir),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"paydesk serve exited early:\n{process.communicate()[0]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"paydesk serve did not answer within 60 s:\n{process.communicate()[0]}")


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=15)
    return output


@pytest.mark.slow
def test_serve_runs_the_embedded_setup_and_shows_the_key_once(tmp_path: Path) -> None:
    first, url = start(tmp_path)
    try:
        credentials = httpx.get(f"{url}/sandbox/_sandbox/credentials")
        docs = httpx.get(f"{url}/docs")
        log_page = httpx.get(f"{url}/sandbox/_sandbox/log")
        openapi = httpx.get(f"{url}/openapi.json").json()
    finally:
        output = stop(first)
    assert credentials.status_code == 200
    assert [m["mchid"] for m in credentials.json()["merchants"]] == ["1900000001", "1900000002"]
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert log_page.status_code == 200
    assert "/api/v1/orders" in openapi["paths"]
    assert f"paydesk on {url}" in output
    assert f"{url}/docs" in output
    assert f"{url}/sandbox/_sandbox/log" in output
    [key] = KEY.findall(output)
    assert (tmp_path / "paydesk.sqlite3").exists()
    assert (tmp_path / "sandbox").is_dir()

    again, url = start(tmp_path)
    try:
        orders = httpx.get(f"{url}/api/v1/orders", headers={"Authorization": f"Bearer {key}"})
        served_again = httpx.get(f"{url}/sandbox/_sandbox/credentials").json()
    finally:
        output = stop(again)
    assert orders.status_code == 200, orders.text  # the printed key works
    assert served_again == credentials.json()  # the keys of the first start
    assert KEY.findall(output) == []  # shown once only
    assert f"paydesk on {url}" in output


@pytest.mark.usefixtures("in_process_env")
def test_serve_refuses_production_without_a_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_ENVIRONMENT", "production")
    monkeypatch.setenv("PAYDESK_SECRET_KEY", "Qx7vN2pLmR9tW4yZ8bC3dF6gH1jK5sA0eU")
    result = CliRunner().invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "paydesk serve cannot start" in result.output
    assert "PAYDESK_CONFIG_FILE" in result.output
    assert "paydesk config check" in result.output


async def test_startup_lines_of_a_production_app_name_no_sandbox(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    config_file = write_config_file(tmp_path, sandbox_credentials)
    runtime = build_runtime(
        Settings(
            data_dir=tmp_path,
            config_file=config_file,
            public_url="https://pay.example.com",
            database_url="postgresql://pd:hunter2@db/paydesk",
        )
    )
    lines = "\n".join(startup_lines(runtime, None))
    await runtime.services.aclose()
    assert "paydesk[/bold] on [cyan]https://pay.example.com" in lines
    assert "production WeChat" in lines
    assert "sandbox" not in lines
    assert str(config_file) in lines
    assert "hunter2" not in lines
    assert "pd:***@db/paydesk" in lines
    assert "Merchant API key" not in lines
    assert "paydesk apikey create --name <who>" in lines


@pytest.mark.usefixtures("in_process_env")
def test_serve_prints_where_to_go_then_hands_the_app_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[dict[str, Any]] = []

    def fake_run(app: Any, **options: Any) -> None:
        served.append({"app": app, **options})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(app, ["serve", "--port", "8123", "--log-level", "WARNING"])
    assert result.exit_code == 0, result.output
    [call] = served
    assert call["host"] == "127.0.0.1"
    assert call["port"] == 8123
    assert call["log_level"] == "warning"
    assert "paydesk on http://127.0.0.1:8123  (embedded: sandbox as WeChat)" in result.output
    assert "sandbox keys  http://127.0.0.1:8123/sandbox/_sandbox/credentials" in result.output
    assert len(KEY.findall(result.output)) == 1


async def test_startup_lines_name_a_sandbox_beside_a_config_file(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    runtime = build_runtime(
        Settings(
            data_dir=tmp_path,
            config_file=write_config_file(tmp_path, sandbox_credentials),
            sandbox=True,
        ),
        sandbox_credentials=sandbox_credentials,
    )
    lines = "\n".join(startup_lines(runtime, None))
    await runtime.services.aclose()
    assert "(config file, sandbox as WeChat)" in lines
    assert "sandbox log   http://127.0.0.1:8000/sandbox/_sandbox/log" in lines
