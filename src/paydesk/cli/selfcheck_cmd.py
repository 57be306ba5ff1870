"""``paydesk selfcheck``: prove this installation signs and verifies like WeChat."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def selfcheck() -> None:
    """Run the official known-answer vectors through paydesk.protocol and print a table."""
    # Imported here: the vectors pull in the protocol's models, which other commands do not need.
    from paydesk.selfcheck import run_all

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    results = run_all()
    table = Table(title="paydesk selfcheck — official WeChat vectors through paydesk.protocol")
    table.add_column("area")
    table.add_column("check")
    table.add_column("source")
    table.add_column("result")
    for result in results:
        verdict = "[green]pass[/green]" if result.passed else f"[red]FAIL[/red] {result.detail}"
        table.add_row(result.area, result.name, result.source, verdict)
    console.print(table)
    failed = [r for r in results if not r.passed]
    if failed:
        console.print(f"[red]{len(failed)} of {len(results)} checks failed.[/red]")
        raise typer.Exit(code=1)
    console.print(
        f"[green]All {len(results)} checks passed:[/green] this installation signs, "
        "verifies and decrypts exactly like WeChat's published examples."
    )
