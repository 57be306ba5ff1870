"""``paydesk serve``: the HTTP API — embedded with its sandbox by default, or production.

    $ paydesk serve                         # http://127.0.0.1:8000, SQLite + sandbox in ./data
    $ paydesk serve --host 0.0.0.0 --port 9000
    $ PAYDESK_CONFIG_FILE=paydesk.toml PAYDESK_DATABASE_URL=postgresql://… paydesk serve

With no ``PAYDESK_CONFIG_FILE`` the sandbox is mounted at ``/sandbox`` and is WeChat: its keys
are made on the first start in ``$PAYDESK_DATA_DIR/sandbox``, the database is migrated, and the
first start prints a merchant API key — once. See :mod:`paydesk.api.serve` for the wiring.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from paydesk.api.serve import Runtime

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def startup_errors() -> tuple[type[Exception], ...]:
    """What can stop ``serve`` before it listens; each is shown as one red line, exit 1.

    A function, not a constant: SQLAlchemy is imported only by the commands that use it.

    >>> OSError in startup_errors()
    True
    """
    from sqlalchemy.exc import SQLAlchemyError

    return (
        OSError,  # unreadable data dir or config file, database unreachable
        ValueError,  # ServeConfigError, SecretError, bad TOML, pydantic's ValidationError, bad URL
        RuntimeError,  # MigrationError
        SQLAlchemyError,
    )


def shown_database(url: str) -> str:
    """A database URL fit to print (password hidden).

    >>> shown_database("postgresql+asyncpg://pd:s3cret@db/paydesk")
    'postgresql+asyncpg://pd:***@db/paydesk'
    """
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def startup_lines(runtime: Runtime, first_key: str | None) -> list[str]:
    """What ``serve`` prints before it listens (Rich markup): where to go, and the key once."""
    settings = runtime.settings
    mode = "production WeChat"
    if runtime.sandbox is not None:
        mode = (
            "embedded: sandbox as WeChat" if runtime.embedded else "config file, sandbox as WeChat"
        )
    lines = [
        f"[bold]paydesk[/bold] on [cyan]{runtime.base_url}[/cyan]  ({mode})",
        f"  API docs      {runtime.docs_url}",
    ]
    if runtime.sandbox_url is not None:
        lines += [
            f"  sandbox log   {runtime.sandbox_log_url}",
            f"  sandbox keys  {runtime.sandbox_url}/_sandbox/credentials",
        ]
    lines.append(f"  database      {shown_database(settings.effective_database_url())}")
    if settings.config_file is not None:
        lines.append(f"  config        {settings.config_file}")
    if not runtime.embedded:
        lines.append("  API keys      paydesk apikey create --name <who>  (printed once)")
    if first_key is not None:
        lines += [
            "",
            f"[bold yellow]Merchant API key (shown once, stored hashed):[/bold yellow] {first_key}",
            "  use it as  Authorization: Bearer <key>;  more with: paydesk apikey create",
        ]
    return lines


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the API (and, with no config file, the sandbox at /sandbox) until Ctrl-C."""
    # Imported here so that other commands do not pay for the server's imports.
    import uvicorn

    from paydesk.api.serve import build_runtime, serve_settings
    from paydesk.workers.jobs import background_jobs

    console = Console()
    try:
        settings = serve_settings(host, port)
        with console.status("Loading the configuration (sandbox keys: made on the first start)"):
            # The worker (webhooks, sweeps) runs beside the app unless switched off.
            runtime = build_runtime(settings, background=background_jobs(settings))
        with console.status("Migrating the database"):
            first_key = asyncio.run(runtime.prepare())
    except startup_errors() as exc:
        console.print(f"[red]paydesk serve cannot start:[/red] {exc}")
        console.print("Check your PAYDESK_* variables with: paydesk config check")
        raise typer.Exit(code=1) from exc
    for line in startup_lines(runtime, first_key):
        console.print(line, soft_wrap=True)
    uvicorn.run(runtime.app, host=host, port=port, log_level=log_level.lower())
