"""``import paydesk.cli`` stays light: ``paydesk --help`` and ``paydesk sandbox`` must not pay for
the database, the domain, the API or the protocol's models (about 1.5 s of imports together)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from paydesk.cli import app

#: Packages only the commands that need them may import, inside the command.
HEAVY = (
    "paydesk.api",
    "paydesk.db",
    "paydesk.domain",
    "paydesk.protocol",
    "paydesk.selfcheck",
    "paydesk.workers",
    "fastapi",
    "pydantic",
    "sqlalchemy",
)

_LIST_IMPORTED = """
import json, sys
import paydesk.cli
print(json.dumps(sorted(sys.modules)))
"""


def imported_by(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


def is_heavy(module: str) -> bool:
    """``module`` is one of ``HEAVY`` or inside one.

    >>> is_heavy("sqlalchemy.orm"), is_heavy("sqlalchemy"), is_heavy("sqlalchemy_utils")
    (True, True, False)
    """
    return any(module == name or module.startswith(f"{name}.") for name in HEAVY)


def test_importing_the_cli_imports_none_of_the_heavy_packages() -> None:
    modules = imported_by(_LIST_IMPORTED)
    assert "paydesk.cli.webhooks_cmd" in modules  # every command module was imported …
    assert [m for m in modules if is_heavy(m)] == []  # … and none of them pulled these in


def test_the_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for command in ("selfcheck", "sandbox", "webhooks", "worker", "serve", "demo", "db", "apikey"):
        assert command in result.output
