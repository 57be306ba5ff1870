"""``paydesk apikey``: the merchant backends' API keys.

    $ paydesk apikey create --name shop-backend                 # every configured merchant
    $ paydesk apikey create --name shop-backend --mchid 1900000001
    $ paydesk apikey list
    $ paydesk apikey revoke key_01HV…        # or its prefix, as `list` shows it: pdk_ABCDEFGH

A key is printed once, by ``create``; only its SHA-256 digest is stored, so a lost key is
revoked and replaced, never shown again. The database and domain modules are imported inside
the commands, so that the other commands start fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from paydesk.cli.db_cmd import database_url, on_database, require_migrated

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from paydesk.db.models import ApiKey
    from paydesk.settings import Settings

app = typer.Typer(help="Create, list and revoke merchant API keys.", no_args_is_help=True)

_T = TypeVar("_T")


def _in_session(url: str, action: Callable[[AsyncSession], Awaitable[_T]]) -> _T:
    """Run ``action`` in one committed transaction on the database at ``url``."""
    from sqlalchemy.pool import NullPool

    from paydesk.db.engine import create_engine, session_factory
    from paydesk.domain.errors import DomainError

    async def main() -> _T:
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with session_factory(engine).begin() as session:
                return await action(session)
        finally:
            await engine.dispose()

    try:
        return on_database(url, lambda: asyncio.run(main()))
    except DomainError as exc:
        Console(stderr=True).print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(code=1) from exc


def known_merchants(settings: Settings) -> list[str] | None:
    """The mchids ``paydesk serve`` would serve; None when that cannot be told yet."""
    from paydesk.sandbox.credentials import CREDENTIALS_FILE, SandboxCredentials
    from paydesk.settings import load_config

    if settings.config_file is not None:
        return [m.mchid for m in load_config(settings.config_file).merchants]
    kept = settings.data_dir / "sandbox"
    if not (kept / CREDENTIALS_FILE).exists():
        return None  # the embedded sandbox makes its merchants on the first serve
    return [m.mchid for m in SandboxCredentials.load_or_create(kept).merchants]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def keys_table(rows: list[ApiKey]) -> Table:
    """Keys without secrets: id, name, prefix, scope and dates."""
    table = Table(title="API keys", title_justify="left")
    for column in ("id", "name", "prefix", "mchid", "created (UTC)", "last used", "revoked"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.id,
            row.name,
            row.prefix,
            row.mchid or "all",
            _when(row.created_at),
            _when(row.last_used_at),
            f"[red]{_when(row.revoked_at)}[/red]" if row.revoked_at else "—",
        )
    return table


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who uses the key (e.g. shop-backend).")],
    mchid: Annotated[
        str | None,
        typer.Option(help="Limit the key to one merchant (default: every merchant)."),
    ] = None,
) -> None:
    """Create a key and print it once."""
    from paydesk.domain import apikeys
    from paydesk.domain.clock import SystemClock
    from paydesk.domain.ids import IdSource
    from paydesk.settings import Settings

    if not name.strip() or len(name) > 64:
        raise typer.BadParameter("give a name of 1 to 64 characters", param_hint="--name")
    settings = Settings()
    if mchid is not None:
        try:
            known = known_merchants(settings)
        except (OSError, ValueError) as exc:
            Console(stderr=True).print(f"[red]Cannot read the merchants:[/red] {exc}")
            raise typer.Exit(code=1) from exc
        if known is not None and mchid not in known:
            raise typer.BadParameter(
                f"no merchant {mchid} is configured (known: {', '.join(known) or 'none'})",
                param_hint="--mchid",
            )
    url = database_url()
    require_migrated(url)
    clock = SystemClock()

    async def make(session: AsyncSession) -> tuple[str, ApiKey]:
        return await apikeys.create_api_key(
            session, name=name.strip(), mchid=mchid, ids=IdSource(clock), now=clock.now()
        )

    plain, row = _in_session(url, make)
    console = Console()
    console.print(f"Created {row.id} ({row.name}, merchant {row.mchid or 'all'}).")
    console.print(f"[bold yellow]API key (shown once, stored hashed):[/bold yellow] {plain}")
    console.print("Send it as  Authorization: Bearer <key>")


@app.command("list")
def list_keys() -> None:
    """Every key, newest first (never the keys themselves)."""
    from paydesk.domain import apikeys

    url = database_url()
    require_migrated(url)
    rows = _in_session(url, apikeys.list_api_keys)
    console = Console()
    if not rows:
        console.print("No API keys yet. Make one with: paydesk apikey create --name <who>")
        return
    console.print(keys_table(rows))


@app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id (key_…) or its prefix (pdk_…).")],
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from sqlalchemy import select

    from paydesk.db.models import ApiKey
    from paydesk.domain import apikeys
    from paydesk.domain.clock import SystemClock

    url = database_url()
    require_migrated(url)
    clock = SystemClock()

    async def run(session: AsyncSession) -> tuple[ApiKey, bool]:
        found = await session.scalar(
            select(ApiKey).where((ApiKey.id == key) | (ApiKey.prefix == key))
        )
        if found is not None and found.revoked_at is not None:
            return found, False
        return await apikeys.revoke_api_key(session, key, now=clock.now()), True

    row, changed = _in_session(url, run)
    if changed:
        Console().print(f"[green]Revoked[/green] {row.id} ({row.name}, {row.prefix}…).")
    else:
        Console().print(f"{row.id} ({row.name}) was revoked already, at {_when(row.revoked_at)}.")
