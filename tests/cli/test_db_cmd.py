"""``paydesk db upgrade`` / ``db current`` on a fresh database of the run's backend, and what a
person sees when the database cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paydesk.cli import app
from paydesk.db.migrate import current_revision, head_revision


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean PAYDESK_* environment with the data directory in ``tmp_path``."""
    for name in ("CONFIG_FILE", "DATABASE_URL", "ENVIRONMENT", "PUBLIC_URL", "SANDBOX"):
        monkeypatch.delenv(f"PAYDESK_{name}", raising=False)
    monkeypatch.setenv("PAYDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def db(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["db", *args])
    return result.exit_code, result.output


@pytest.mark.backends
def test_upgrade_migrates_a_fresh_database_once(
    env: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDESK_DATABASE_URL", fresh_database_url)
    code, output = db("current")
    assert code == 0, output
    assert "none (never migrated)" in output
    assert "run paydesk db upgrade" in output

    code, output = db("upgrade")
    assert code == 0, output
    assert f"Migrated an empty database → {head_revision()}" in output
    assert current_revision(fresh_database_url) == head_revision()

    code, output = db("upgrade")
    assert code == 0, output
    assert f"Already up to date at revision {head_revision()}" in output

    code, output = db("current")
    assert code == 0, output
    assert "Up to date." in output


def test_the_default_database_is_a_file_in_the_data_dir(env: Path) -> None:
    code, output = db("upgrade")
    assert code == 0, output
    assert (env / "paydesk.sqlite3").exists()
    assert current_revision(f"sqlite+aiosqlite:///{env / 'paydesk.sqlite3'}") == head_revision()


def test_an_unreachable_database_is_one_clear_line_and_exit_1(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("PAYDESK_DATABASE_URL", "postgresql://paydesk:hunter2@127.0.0.1:9/paydesk")
    code, output = db("current")
    assert code == 1
    assert "failed" in output
    assert "Check PAYDESK_DATABASE_URL" in output
    assert "hunter2" not in output


def test_an_unsupported_database_url_is_refused(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_DATABASE_URL", "mysql://localhost/paydesk")
    code, output = db("upgrade")
    assert code == 1
    assert "unsupported database URL" in output


def test_invalid_settings_are_reported(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_ENVIRONMENT", "production")  # and no PAYDESK_SECRET_KEY
    code, output = db("current")
    assert code == 1
    assert "Invalid PAYDESK_* settings" in output
    assert "PAYDESK_SECRET_KEY" in output
