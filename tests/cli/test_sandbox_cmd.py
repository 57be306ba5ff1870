"""``paydesk sandbox``: a real process, keys created on the first start and read (not made again)
on the next, a summary without secrets, and the options wired to the sandbox. How fast a warm
start is ready is measured by ``bench/sandbox.py`` (``warm_start_s``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from paydesk.cli import app
from paydesk.cli.sandbox_cmd import base_url, default_data_dir
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.credentials import CREDENTIALS_FILE
from tests.serving import free_port


def secrets_of(credentials: dict[str, Any]) -> list[str]:
    """Every value the summary must never print."""
    found = [
        m[k]
        for m in credentials["merchants"]
        for k in ("apiv3_key", "v2_key", "merchant_private_key_pem")
    ]
    found += [
        a[k]
        for a in credentials["apps"]
        for k in ("secret", "push_token", "encoding_aes_key", "virtual_pay_app_key")
    ]
    return found


def start(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m paydesk sandbox``; return it and its base URL once it answers."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paydesk",
            "sandbox",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = started + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"paydesk sandbox exited early:\n{process.communicate()[0]}")
        try:
            if httpx.get(f"{url}/_sandbox/credentials", timeout=0.5).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.02)
    process.kill()
    pytest.fail("paydesk sandbox did not answer within 30 s")


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=10)
    return output


@pytest.mark.slow
def test_first_start_creates_keys_and_the_next_start_reads_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    cold, url = start(data_dir)
    try:
        served = httpx.get(f"{url}/_sandbox/credentials").json()
    finally:
        stop(cold)
    stored = json.loads((data_dir / CREDENTIALS_FILE).read_text("utf-8"))
    assert [m["mchid"] for m in served["merchants"]] == [m["mchid"] for m in stored["merchants"]]
    assert served["merchants"][0]["apiv3_key"] == stored["merchants"][0]["apiv3_key"]

    created = (data_dir / CREDENTIALS_FILE).stat()
    warm, url = start(data_dir)
    try:
        again = httpx.get(f"{url}/_sandbox/credentials").json()
        login = httpx.post(f"{url}/_sandbox/login-code", json={"appid": served["apps"][0]["appid"]})
    finally:
        output = stop(warm)
    assert again == served  # the keys of the first start, not new ones
    kept = (data_dir / CREDENTIALS_FILE).stat()
    assert (kept.st_mtime_ns, kept.st_size) == (created.st_mtime_ns, created.st_size)
    assert login.status_code == 200
    assert f"paydesk sandbox on {url}" in output
    for expected in (
        "1900000001",
        "1900000002",
        "public_key",
        "certificate",
        "PUB_KEY_ID_",
        "wx5a0d5a0d00000001",
        "official_account",
        f"GET {url}/_sandbox/credentials",
    ):
        assert expected in output
    assert "PRIVATE KEY" not in output
    for secret in secrets_of(served):
        assert secret not in output


@pytest.fixture(scope="module")
def stored_credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory that already holds credentials (1024-bit keys: faster to make)."""
    directory = tmp_path_factory.mktemp("stored") / "sandbox"
    directory.mkdir()
    creds = SandboxCredentials.generate(rsa_bits=1024)
    (directory / CREDENTIALS_FILE).write_text(json.dumps(creds.to_json()), "utf-8")
    return directory


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stands in for ``uvicorn.run``: records what would have been served."""
    seen: dict[str, Any] = {}

    def fake_run(asgi: Any, **options: Any) -> None:
        seen["sandbox"] = asgi.state.sandbox
        seen.update(options)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return seen


def test_options_reach_the_sandbox_and_uvicorn(
    stored_credentials: Path, served: dict[str, Any]
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "sandbox",
            "--host",
            "::1",
            "--port",
            "9001",
            "--data-dir",
            str(stored_credentials),
            "--speed",
            "60",
            "--seed",
            "7",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    sandbox: Sandbox = served["sandbox"]
    assert (served["host"], served["port"]) == ("::1", 9001)
    assert sandbox.clock.speed == 60
    assert sandbox.credentials == SandboxCredentials.from_json(
        json.loads((stored_credentials / CREDENTIALS_FILE).read_text("utf-8"))
    )
    assert sandbox.random_string(8) == Sandbox(sandbox.credentials, seed=7).random_string(8)
    assert "paydesk sandbox on http://[::1]:9001" in result.output


def test_the_data_dir_defaults_to_paydesk_data_dir_then_to_data(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stored_credentials: Path,
    served: dict[str, Any],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAYDESK_DATA_DIR", raising=False)
    assert default_data_dir() == Path("data") / "sandbox"
    monkeypatch.setenv("PAYDESK_DATA_DIR", str(stored_credentials.parent))
    assert default_data_dir() == stored_credentials
    result = CliRunner().invoke(app, ["sandbox"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    stored = json.loads((stored_credentials / CREDENTIALS_FILE).read_text("utf-8"))
    assert served["sandbox"].credentials == SandboxCredentials.from_json(stored)
    assert (served["host"], served["port"]) == ("127.0.0.1", 8765)
    assert f"(data: {stored_credentials})" in result.output


def test_an_unreadable_data_dir_is_a_clear_error(tmp_path: Path, served: dict[str, Any]) -> None:
    (tmp_path / CREDENTIALS_FILE).write_text("{not json", "utf-8")
    result = CliRunner().invoke(
        app, ["sandbox", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert "Cannot use the sandbox data directory" in result.output
    assert "sandbox" not in served


def test_base_url_brackets_ipv6() -> None:
    assert base_url("0.0.0.0", 8765) == "http://0.0.0.0:8765"
    assert base_url("::", 8765) == "http://[::]:8765"
