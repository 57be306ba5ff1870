"""``paydesk reconcile``: a day's trade bills from WeChat against paydesk's ledger.

    $ paydesk reconcile --date 2026-03-01                      # every merchant
    $ paydesk reconcile --date 2026-03-01 --mchid 1900000001 --out 2026-03-01.csv

For each merchant the day's bill (Beijing day; WeChat makes it after 10:00 the next day) is
downloaded, parsed and compared line by line with paydesk's payments and refunds: *missing
here*, *missing there*, *amount differs*, *state differs*. Every difference is printed, written
to ``--out`` as CSV, and recorded as a ``reconcile_*`` anomaly (once, however often the day is
reconciled). Exit status: 0 all agree, 1 any difference, 2 a bill could not be had.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from paydesk.domain.context import Services
    from paydesk.domain.reconcile import Reconciliation

#: The columns of ``--out``.
CSV_COLUMNS = (
    "mchid",
    "day",
    "kind",
    "item",
    "reference",
    "order_id",
    "ours_amount",
    "theirs_amount",
    "ours_state",
    "theirs_state",
    "fen",
)
_KIND_STYLE = {
    "missing_here": "red",
    "missing_there": "red",
    "amount_differs": "magenta",
    "state_differs": "yellow",
}


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` → a date, or a Typer error naming the option.

    >>> parse_day("2026-03-01")
    datetime.date(2026, 3, 1)
    """
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date like 2026-03-01", param_hint="--date"
        ) from None


def exit_code(result: Reconciliation) -> int:
    """0 when every merchant's bill agrees, 1 on any difference, else 2 if a bill was missing."""
    if result.differences:
        return 1
    return 2 if result.errors else 0


def _fen(value: int | None) -> str:
    return "—" if value is None else str(value)


def merchants_table(result: Reconciliation) -> Table:
    """One line per merchant: what the bill held and how it went."""
    table = Table(title=f"Trade bills of {result.day} (Beijing)", title_justify="left")
    for column in ("mchid", "payments", "refunds", "differences", "new anomalies", "result"):
        table.add_column(column)
    for one in result.merchants:
        if one.error is not None or one.bill is None:
            table.add_row(one.mchid, "—", "—", "—", "—", f"[red]{one.error}[/red]")
            continue
        verdict = "[red]differs[/red]" if one.differences else "[green]agrees[/green]"
        table.add_row(
            one.mchid,
            str(len(one.bill.payments)),
            str(len(one.bill.refunds)),
            str(len(one.differences)),
            str(one.recorded),
            verdict,
        )
    return table


def differences_table(result: Reconciliation) -> Table:
    """Every difference, amounts in fen."""
    table = Table(title="Differences (amounts in fen)", title_justify="left")
    for column in ("mchid", "kind", "item", "reference", "order", "ours", "WeChat"):
        table.add_column(column, overflow="fold")
    for one in result.merchants:
        for d in one.differences:
            style = _KIND_STYLE[d.kind]
            table.add_row(
                one.mchid,
                f"[{style}]{d.kind.replace('_', ' ')}[/{style}]",
                d.item,
                d.reference,
                d.order_id or "—",
                f"{_fen(d.ours_amount)} {d.ours_state or ''}".strip(),
                f"{_fen(d.theirs_amount)} {d.theirs_state or ''}".strip(),
            )
    return table


def write_csv(path: Path, result: Reconciliation) -> int:
    """Write every difference to ``path`` (header included); returns the number of lines."""
    lines = 0
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(CSV_COLUMNS)
        for one in result.merchants:
            for d in one.differences:
                values = (
                    one.mchid,
                    result.day.isoformat(),
                    d.kind,
                    d.item,
                    d.reference,
                    d.order_id or "",
                    _csv(d.ours_amount),
                    _csv(d.theirs_amount),
                    d.ours_state or "",
                    d.theirs_state or "",
                    d.fen,
                )
                writer.writerow(values)
                lines += 1
    return lines


def _csv(value: int | None) -> str:
    return "" if value is None else str(value)


def report(console: Console, result: Reconciliation, out: Path | None) -> int:
    """Print ``result`` (and write ``out``); returns the exit status."""
    console.print(merchants_table(result))
    if result.differences:
        console.print(differences_table(result))
        console.print(
            f"[red]{len(result.differences)} difference(s), "
            f"{result.fen_difference} fen apart[/red] — recorded as reconcile_* anomalies"
        )
    elif not result.errors:
        console.print("[green]Every bill agrees with paydesk, to the fen.[/green]")
    if out is not None:
        lines = write_csv(out, result)
        console.print(f"Wrote {lines} difference(s) to {out}")
    return exit_code(result)


async def run(services: Services, day: date, mchid: str | None) -> Reconciliation:
    """Reconcile ``day`` with ``services`` (the command's work, for tests and scripts)."""
    from paydesk.domain.reconcile import reconcile as reconcile_day

    return await reconcile_day(services, day, mchid=mchid)


def reconcile(
    day: Annotated[str, typer.Option("--date", help="The bill's day, YYYY-MM-DD (Beijing).")],
    mchid: Annotated[
        str | None, typer.Option(help="Only this merchant (default: every one).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the differences to this CSV file.")
    ] = None,
) -> None:
    """Diff a day's WeChat trade bills with paydesk's ledger; exit 1 on any difference."""
    from paydesk.domain.context import build_services
    from paydesk.domain.errors import DomainError
    from paydesk.settings import load_settings_and_config

    chosen = parse_day(day)
    console = Console()

    async def main() -> Reconciliation:
        services = build_services(*load_settings_and_config())
        try:
            return await run(services, chosen, mchid)
        finally:
            await services.aclose()

    try:
        with console.status(f"Downloading and comparing the bills of {chosen}"):
            result = asyncio.run(main())
    except DomainError as exc:
        Console(stderr=True).print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(code=2) from exc
    raise typer.Exit(code=report(console, result, out))
