"""``paydesk selfcheck`` prints the table and exits 0 only when every vector passes."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from paydesk import selfcheck
from paydesk.cli import app


def test_selfcheck_passes_and_prints_a_table() -> None:
    result = CliRunner().invoke(app, ["selfcheck"])
    assert result.exit_code == 0, result.output
    assert "All 17 checks passed" in result.output
    assert "AEAD_AES_256_GCM" in result.output
    assert "wx.requestPayment paySign" in result.output


def test_selfcheck_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [selfcheck.CheckResult("Pay v3", "x", "src", passed=False, detail="output differs")]
    monkeypatch.setattr(selfcheck, "run_all", lambda: broken)
    result = CliRunner().invoke(app, ["selfcheck"])
    assert result.exit_code == 1
    assert "1 of 1 checks failed" in result.output
