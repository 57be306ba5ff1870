"""``paydesk config check``: validate the settings and the config file offline.

    $ paydesk config check                        # PAYDESK_* and PAYDESK_CONFIG_FILE
    $ paydesk config check --config-file paydesk.toml

Prints the settings in effect (no secrets), then every finding of
:func:`paydesk.settings.check.check_config` as a table, errors first. Exit status 1 when any
finding is an error — so a deploy step can run it — and every error says what to do next.
Heavy imports happen inside the command, so that the other commands start fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from paydesk.cli.serve_cmd import shown_database

if TYPE_CHECKING:
    from paydesk.settings import PaydeskConfig, Settings
    from paydesk.settings.check import Finding

app = typer.Typer(help="Validate settings and the merchants-and-apps file.", no_args_is_help=True)

_ORDER = {"error": 0, "warn": 1, "ok": 2}
_STYLE = {"error": "red", "warn": "yellow", "ok": "green"}


def settings_table(settings: Settings) -> Table:
    """The settings in effect, without a single secret."""
    table = Table(title="Settings", title_justify="left", show_header=False)
    table.add_column("name", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("environment", settings.environment),
        ("data_dir", str(settings.data_dir)),
        ("database", shown_database(settings.effective_database_url())),
        ("redis", shown_database(settings.redis_url) if settings.redis_url else "none (memory)"),
        ("public_url", settings.public_url),
        ("config_file", str(settings.config_file or "none (embedded sandbox setup)")),
        ("sandbox", "mounted" if settings.config_file is None or settings.sandbox else "off"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def findings_table(findings: list[Finding]) -> Table:
    """The findings, errors first, then warnings, then what is fine."""
    table = Table(title="Findings", title_justify="left")
    for column in ("level", "subject", "finding"):
        table.add_column(column, overflow="fold")
    for finding in sorted(findings, key=lambda f: _ORDER[f.level]):
        style = _STYLE[finding.level]
        table.add_row(f"[{style}]{finding.level}[/{style}]", finding.subject, finding.message)
    return table


def _load(settings: Settings) -> tuple[PaydeskConfig, list[Finding]]:
    """The config to check, and what went wrong reading it (as findings)."""
    from paydesk.api.embedded import config_from_sandbox
    from paydesk.sandbox.credentials import CREDENTIALS_FILE, SandboxCredentials
    from paydesk.settings import PaydeskConfig, load_config, refuse_placeholders
    from paydesk.settings.check import Finding

    if settings.config_file is None:
        kept = settings.data_dir / "sandbox"
        note = Finding(
            "warn",
            "config_file",
            "no PAYDESK_CONFIG_FILE: paydesk serve uses its sandbox's merchants; set it to a "
            "TOML file of your merchants and apps for real WeChat",
        )
        if not (kept / CREDENTIALS_FILE).exists():
            return PaydeskConfig(), [note]
        return config_from_sandbox(SandboxCredentials.load_or_create(kept)), [note]
    path = settings.config_file
    try:
        config = load_config(path)
    except OSError as exc:
        return PaydeskConfig(), [
            Finding("error", "config_file", f"cannot read {path} ({exc.strerror}): fix the path")
        ]
    except ValueError as exc:  # bad TOML, a missing secret source, a wrong field
        return PaydeskConfig(), [
            Finding("error", "config_file", f"{path} is not valid: {exc}; fix it and check again")
        ]
    try:
        refuse_placeholders(settings, config)
    except ValueError as exc:
        return config, [Finding("error", "secrets", f"{exc}: put the real values in")]
    return config, []


@app.command("check")
def check(
    config_file: Annotated[
        Path | None,
        typer.Option(help="The TOML file to check (default: $PAYDESK_CONFIG_FILE)."),
    ] = None,
) -> None:
    """Check settings and config offline; exit 1 on any error."""
    from paydesk.settings import Settings
    from paydesk.settings.check import Finding, check_config

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    try:
        settings = Settings() if config_file is None else Settings(config_file=config_file)
    except ValueError as exc:
        console.print(findings_table([Finding("error", "settings", f"{exc}")]))
        console.print("[red]Fix the PAYDESK_* environment variables named above.[/red]")
        raise typer.Exit(code=1) from exc
    console.print(settings_table(settings))
    config, problems = _load(settings)
    findings = problems
    if not any(f.level == "error" for f in problems):
        findings += [
            f
            for f in check_config(settings, config, now=datetime.now(UTC))
            if not (settings.config_file is None and f.message == "no merchants configured")
        ]
    console.print(findings_table(findings))
    errors = sum(f.level == "error" for f in findings)
    if errors:
        console.print(
            f"[red]{errors} error(s):[/red] fix them, then run paydesk config check again."
        )
        raise typer.Exit(code=1)
    console.print("[green]No errors.[/green]")
