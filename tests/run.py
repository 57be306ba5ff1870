"""Run every check that ``make test`` promises, and fail loudly if any did not run.

1. the whole suite on the embedded default (SQLite file, in-process cache), with branch coverage;
2. 100 % branch coverage of ``paydesk.protocol``;
3. the database-backed tests again on PostgreSQL and Redis (marker ``backends``), when
   ``tests/backends.py`` can reach them — on CI they are always there, and the run fails if not.

Usage: ``python tests/run.py [extra pytest args]``; ``PAYDESK_TEST_WORKERS`` sets the number of
pytest-xdist workers (default 2).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: A pass takes 5 minutes on a two-core machine. One that hangs outside any test (a worker that
#: cannot exit) is stopped here, well inside CI's limit; a test that hangs is failed sooner, by
#: pytest-timeout (pyproject.toml), with every thread's stack.
PASS_TIMEOUT_SECONDS = 25 * 60


def _run(step: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
    print(f"\n==> {step}\n    {' '.join(cmd)}", flush=True)
    process = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, start_new_session=True
    )
    try:
        code = process.wait(timeout=PASS_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        sys.exit(f"FAILED: {step}: still running after {PASS_TIMEOUT_SECONDS} s, stopped")
    except KeyboardInterrupt:  # its own session does not get the terminal's Ctrl-C
        os.killpg(process.pid, signal.SIGKILL)
        raise
    if code == 5:
        sys.exit(f"FAILED: {step}: no test ran")
    if code != 0:
        sys.exit(f"FAILED: {step} (exit {code})")


def main(extra: list[str]) -> None:
    # Two workers by default: the machines this runs on have two cores.
    workers = os.environ.get("PAYDESK_TEST_WORKERS", "2")
    pytest = [str(BIN / "python"), "-m", "pytest", "-n", workers]
    coverage = [str(BIN / "python"), "-m", "coverage"]
    (ROOT / ".coverage").unlink(missing_ok=True)
    _run(
        "pytest on the embedded default (SQLite, in-process cache)",
        [*pytest, "--cov", "--cov-report=", *extra],
        {"PAYDESK_TEST_BACKEND": "sqlite"},
    )
    _run(
        "100% branch coverage of paydesk.protocol",
        [*coverage, "report", "--include=src/paydesk/protocol/*", "--fail-under=100"],
    )
    if (ROOT / "tests" / "backends.py").exists():
        _run(
            "pytest -m backends on PostgreSQL and Redis",
            [*pytest, "-m", "backends", "-p", "no:cacheprovider", *extra],
            {"PAYDESK_TEST_BACKEND": "postgresql"},
        )
    print("\nAll checks passed.")


if __name__ == "__main__":
    main(sys.argv[1:])
