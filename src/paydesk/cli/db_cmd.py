"""``paydesk db``: migrate the database and say which revision it is at.

    $ paydesk db upgrade        # to the newest revision shipped with this paydesk
    $ paydesk db current        # the database's revision, and whether it is the newest

The database is ``PAYDESK_DATABASE_URL``, else ``paydesk.sqlite3`` in ``PAYDESK_DATA_DIR``.
``paydesk serve`` migrates on start too; run this before ``paydesk apikey`` on a new database,
or as a release step when several replicas share PostgreSQL.

Heavy imports (Alembic, the models) happen inside the commands, so that ``paydesk --help`` and
the other commands start fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from paydesk.cli.serve_cmd import shown_database

app = typer.Typer(help="Migrate the database and show its revision.", no_args_is_help=True)

_T = TypeVar("_T")


def database_errors() -> tuple[type[Exception], ...]:
    """What reaching a database can raise (RuntimeError: MigrationError); each becomes one red
    line and exit status 1.

    >>> RuntimeError in database_errors()
    True
    """
    from sqlalchemy.exc import SQLAlchemyError

    return (OSError, ValueError, RuntimeError, SQLAlchemyError)


def database_url() -> str:
    """The database this process would use (settings from the environment)."""
    from paydesk.settings import Settings

    try:
        return Settings().effective_database_url()
    except ValueError as exc:
        Console(stderr=True).print(f"[red]Invalid PAYDESK_* settings:[/red] {exc}")
        raise typer.Exit(code=1) from exc


def on_database(url: str, action: Callable[[], _T]) -> _T:
    """Run ``action``; a database failure is a red line with what to try, and exit 1."""
    try:
        return action()
    except database_errors() as exc:
        console = Console(stderr=True)
        console.print(f"[red]Database {shown_database(url)} failed:[/red] {exc}")
        console.print("Check PAYDESK_DATABASE_URL (and that the server is running).")
        raise typer.Exit(code=1) from exc


def require_migrated(url: str) -> None:
    """Exit 1 with the command to run when the database has never been migrated."""
    from paydesk.db.migrate import current_revision

    if on_database(url, lambda: current_revision(url)) is None:
        Console(stderr=True).print(
            f"[red]The database {shown_database(url)} has no tables yet.[/red] "
            "Run: paydesk db upgrade"
        )
        raise typer.Exit(code=1)


@app.command("upgrade")
def upgrade_command() -> None:
    """Migrate the database to the newest revision (safe to run again)."""
    from paydesk.db.migrate import current_revision, upgrade

    url = database_url()
    console = Console()
    before = on_database(url, lambda: current_revision(url))
    with console.status(f"Migrating {shown_database(url)}"):
        on_database(url, lambda: upgrade(url))
    after = on_database(url, lambda: current_revision(url))
    if before == after:
        console.print(f"[green]Already up to date[/green] at revision {after}.")
    else:
        console.print(f"[green]Migrated[/green] {before or 'an empty database'} → {after}.")


@app.command("current")
def current_command() -> None:
    """Show the database's revision and the newest one this paydesk ships."""
    from paydesk.db.migrate import current_revision, head_revision

    url = database_url()
    revision = on_database(url, lambda: current_revision(url))
    head = head_revision()
    console = Console()
    console.print(f"database  {shown_database(url)}")
    console.print(f"revision  {revision or 'none (never migrated)'}")
    console.print(f"newest    {head}")
    if revision == head:
        console.print("[green]Up to date.[/green]")
    else:
        console.print("[yellow]Behind:[/yellow] run paydesk db upgrade")
