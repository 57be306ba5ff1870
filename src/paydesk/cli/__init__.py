"""The ``paydesk`` command line: one Typer app, one module per command group.

$ paydesk selfcheck      # known-answer tests of the protocol layer
"""

from __future__ import annotations

import typer

from paydesk.cli import sandbox_cmd, selfcheck_cmd

app = typer.Typer(
    name="paydesk",
    help="Self-hosted WeChat Pay service, with an offline WeChat sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("selfcheck")(selfcheck_cmd.selfcheck)
app.command("sandbox")(sandbox_cmd.sandbox)


def main() -> None:
    """Entry point of the ``paydesk`` console script."""
    app()
