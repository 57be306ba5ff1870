"""``paydesk apikey create / list / revoke`` against a fresh database of the run's backend: the
key is printed once, stored hashed, authenticates, and stops working when revoked."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from paydesk.cli import app
from paydesk.db.engine import create_engine, session_factory
from paydesk.db.migrate import upgrade
from paydesk.domain import apikeys
from paydesk.domain.errors import Unauthenticated
from paydesk.sandbox import SandboxCredentials
from paydesk.sandbox.credentials import CREDENTIALS_FILE
from tests.serving import write_config_file

KEY = re.compile(r"pdk_[0-9A-Z]{52}")


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_database_url: str) -> str:
    """A fresh database (not migrated) named by PAYDESK_DATABASE_URL; data dir in tmp_path."""
    for name in ("CONFIG_FILE", "ENVIRONMENT", "PUBLIC_URL", "SANDBOX"):
        monkeypatch.delenv(f"PAYDESK_{name}", raising=False)
    monkeypatch.setenv("PAYDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAYDESK_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("COLUMNS", "200")
    return fresh_database_url


def apikey(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["apikey", *args])
    return result.exit_code, result.output


def authenticates(url: str, key: str) -> bool:
    async def check() -> bool:
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with session_factory(engine).begin() as session:
                await apikeys.authenticate(session, key, now=datetime.now(UTC))
                return True
        except Unauthenticated:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(check())


@pytest.mark.backends
def test_create_list_revoke(database: str) -> None:
    upgrade(database)
    code, output = apikey("list")
    assert code == 0, output
    assert "No API keys yet" in output

    code, output = apikey("create", "--name", "shop-backend")
    assert code == 0, output
    [key] = KEY.findall(output)
    assert "shown once" in output
    assert "merchant all" in output
    assert authenticates(database, key)

    code, listed = apikey("list")
    assert code == 0, listed
    assert "shop-backend" in listed
    assert key[:12] in listed
    assert key not in listed  # only the prefix, never the key

    code, output = apikey("revoke", key[:12])
    assert code == 0, output
    assert "Revoked" in output
    assert not authenticates(database, key)

    code, output = apikey("revoke", key[:12])
    assert code == 0, output
    assert "was revoked already" in output

    code, output = apikey("revoke", "key_nothing")
    assert code == 1
    assert "no API key key_nothing" in output


@pytest.mark.backends
def test_commands_on_an_unmigrated_database_say_to_upgrade(database: str) -> None:
    for args in (("list",), ("create", "--name", "x"), ("revoke", "key_1")):
        code, output = apikey(*args)
        assert code == 1, output
        assert "Run: paydesk db upgrade" in output


def test_a_key_limited_to_a_merchant_of_the_embedded_sandbox(
    database: str, tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    upgrade(database)
    # Before the first `paydesk serve` the sandbox's merchants are not known: any mchid goes.
    code, output = apikey("create", "--name", "early", "--mchid", "1234567")
    assert code == 0, output
    kept = tmp_path / "sandbox"
    kept.mkdir()
    (kept / CREDENTIALS_FILE).write_text(json.dumps(sandbox_credentials.to_json()), "utf-8")
    code, output = apikey("create", "--name", "one-shop", "--mchid", "1900000002")
    assert code == 0, output
    assert "merchant 1900000002" in output
    code, output = apikey("create", "--name", "typo", "--mchid", "1900000009")
    assert code == 2
    assert "no merchant 1900000009 is configured" in output


def test_a_merchant_must_be_in_the_config_file(
    database: str,
    tmp_path: Path,
    sandbox_credentials: SandboxCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upgrade(database)
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", str(write_config_file(tmp_path, sandbox_credentials)))
    assert apikey("create", "--name", "ok", "--mchid", "1900000001")[0] == 0
    code, output = apikey("create", "--name", "other", "--mchid", "1900000002")
    assert code == 2
    assert "known: 1900000001" in output
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", str(tmp_path / "gone.toml"))
    code, output = apikey("create", "--name", "x", "--mchid", "1900000001")
    assert code == 1
    assert "Cannot read the merchants" in output


def test_a_name_is_required_and_sane(database: str) -> None:
    assert apikey("create")[0] == 2
    code, output = apikey("create", "--name", "  ")
    assert code == 2
    assert "1 to 64 characters" in output
