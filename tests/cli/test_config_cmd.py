"""``paydesk config check``: the settings in effect, findings as a table, exit 1 on any error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paydesk.cli import app
from paydesk.sandbox import SandboxCredentials
from paydesk.sandbox.credentials import CREDENTIALS_FILE
from tests.serving import write_config_file

SECRET_KEY = "Qx7vN2pLmR9tW4yZ8bC3dF6gH1jK5sA0eU"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean PAYDESK_* environment with the data directory in ``tmp_path``."""
    for name in (
        "CONFIG_FILE",
        "DATABASE_URL",
        "ENVIRONMENT",
        "PUBLIC_URL",
        "SANDBOX",
        "REDIS_URL",
    ):
        monkeypatch.delenv(f"PAYDESK_{name}", raising=False)
    monkeypatch.setenv("PAYDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["config", "check", *args])
    return result.exit_code, result.output


def test_no_config_file_and_no_sandbox_yet_is_a_warning_not_an_error(env: Path) -> None:
    code, output = check()
    assert code == 0, output
    assert "no PAYDESK_CONFIG_FILE" in output
    assert "none (embedded sandbox setup)" in output
    assert "sqlite+aiosqlite" in output
    assert "No errors." in output
    assert "no merchants configured" not in output


def test_the_embedded_sandbox_merchants_are_checked_once_their_keys_exist(
    env: Path, sandbox_credentials: SandboxCredentials
) -> None:
    kept = env / "sandbox"
    kept.mkdir()
    (kept / CREDENTIALS_FILE).write_text(json.dumps(sandbox_credentials.to_json()), "utf-8")
    code, output = check()
    assert code == 0, output
    assert "merchant 1900000001" in output
    assert "merchant 1900000002" in output
    assert "API v3 keys consistent (public key)" in output
    assert "API v3 keys consistent (platform certificates)" in output
    for merchant in sandbox_credentials.merchants:  # never a secret on screen
        assert merchant.apiv3_key not in output


def test_a_good_config_file_passes(env: Path, sandbox_credentials: SandboxCredentials) -> None:
    path = write_config_file(env, sandbox_credentials)
    code, output = check("--config-file", str(path))
    assert code == 0, output
    assert "API v3 keys consistent (public key)" in output
    assert "miniprogram bound to 1900000001" in output


def test_the_config_file_may_come_from_the_environment(
    env: Path, sandbox_credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", str(write_config_file(env, sandbox_credentials)))
    code, output = check()
    assert code == 0, output
    assert "paydesk.toml" in output
    assert "off" in output


def test_an_error_exits_1_and_says_what_to_do(
    env: Path, sandbox_credentials: SandboxCredentials
) -> None:
    path = write_config_file(env, sandbox_credentials)
    good = sandbox_credentials.merchants[0].apiv3_key
    path.write_text(path.read_text("utf-8").replace(good, "too-short"), "utf-8")
    code, output = check("--config-file", str(path))
    assert code == 1
    assert "apiv3_key must be 32 bytes (got 9)" in output
    assert "1 error(s):" in output
    assert "paydesk config check again" in output
    # errors come first in the table
    assert output.index("error") < output.index("ok ")


def test_a_missing_file_is_an_error(env: Path) -> None:
    code, output = check("--config-file", str(env / "nowhere.toml"))
    assert code == 1
    assert "cannot read" in output
    assert "fix the path" in output


def test_a_broken_file_is_an_error(env: Path) -> None:
    path = env / "broken.toml"
    path.write_text("[[merchants]\nmchid = ", "utf-8")
    code, output = check("--config-file", str(path))
    assert code == 1
    assert "is not valid" in output


def test_placeholder_secrets_are_refused_outside_development(
    env: Path, sandbox_credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config_file(env, sandbox_credentials)
    app_secret = next(a for a in sandbox_credentials.apps if a.type == "miniprogram").secret
    path.write_text(path.read_text("utf-8").replace(app_secret, "changeme"), "utf-8")
    monkeypatch.setenv("PAYDESK_ENVIRONMENT", "production")
    monkeypatch.setenv("PAYDESK_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("PAYDESK_PUBLIC_URL", "https://pay.example.com")
    code, output = check("--config-file", str(path))
    assert code == 1
    assert "placeholder" in output
    assert "secret" in output


def test_production_over_plain_http_is_an_error(
    env: Path, sandbox_credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDESK_ENVIRONMENT", "production")
    monkeypatch.setenv("PAYDESK_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("PAYDESK_PUBLIC_URL", "http://pay.example.com")
    code, output = check("--config-file", str(write_config_file(env, sandbox_credentials)))
    assert code == 1
    assert "WeChat only notifies https URLs" in output


def test_invalid_settings_are_an_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_ENVIRONMENT", "production")  # and no PAYDESK_SECRET_KEY
    code, output = check()
    assert code == 1
    assert "PAYDESK_SECRET_KEY must be a random value" in output
    assert "Fix the PAYDESK_* environment variables" in output


def test_the_settings_table_hides_database_passwords(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDESK_DATABASE_URL", "postgresql://pd:hunter2@db.internal/paydesk")
    monkeypatch.setenv("PAYDESK_REDIS_URL", "redis://:hunter3@cache.internal:6379/0")
    code, output = check()
    assert code == 0, output
    assert "hunter2" not in output
    assert "hunter3" not in output
    assert "pd:***@db.internal" in output
