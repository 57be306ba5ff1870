"""The ``paydesk`` command line: one Typer app, one module per command group.

    $ paydesk demo           # the whole mini program flow against the built-in sandbox
    $ paydesk serve          # the service (embedded default: SQLite + sandbox at /sandbox)
    $ paydesk sandbox        # the WeChat sandbox on its own
    $ paydesk selfcheck      # official WeChat vectors through paydesk.protocol
    $ paydesk worker         # webhook delivery and sweeps
    $ paydesk webhooks | db | apikey | config …

Command modules import their heavy dependencies inside the command, so ``paydesk --help`` and
``paydesk sandbox`` start fast.
"""

from __future__ import annotations

import typer

from paydesk.cli import (
    apikey_cmd,
    config_cmd,
    db_cmd,
    demo_cmd,
    reconcile_cmd,
    sandbox_cmd,
    selfcheck_cmd,
    serve_cmd,
    webhooks_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="paydesk",
    help="Self-hosted WeChat Pay service, with an offline WeChat sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("selfcheck")(selfcheck_cmd.selfcheck)
app.command("sandbox")(sandbox_cmd.sandbox)
app.add_typer(webhooks_cmd.app, name="webhooks")
app.command("worker")(worker_cmd.worker)
app.command("serve")(serve_cmd.serve)
app.command("demo")(demo_cmd.demo)
app.add_typer(db_cmd.app, name="db")
app.add_typer(apikey_cmd.app, name="apikey")
app.add_typer(config_cmd.app, name="config")
app.command("reconcile")(reconcile_cmd.reconcile)


def main() -> None:
    """Entry point of the ``paydesk`` console script."""
    app()
