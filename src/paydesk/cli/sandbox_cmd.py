"""``paydesk sandbox``: run the offline WeChat sandbox on its own.

    $ paydesk sandbox                          # http://127.0.0.1:8765, keys in ./data/sandbox
    $ paydesk sandbox --port 9000 --speed 60   # one virtual minute per second

Keys are created on the first start and kept in the data directory (``--data-dir``, else
``$PAYDESK_DATA_DIR/sandbox``, else ``./data/sandbox``). The summary printed at start never
shows secrets or private keys: they are served by ``GET /_sandbox/credentials``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from paydesk.sandbox.credentials import SandboxCredentials

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def default_data_dir() -> Path:
    """``$PAYDESK_DATA_DIR/sandbox`` when the variable is set, else ``./data/sandbox``."""
    root = os.environ.get("PAYDESK_DATA_DIR")
    return Path(root) / "sandbox" if root else Path("data") / "sandbox"


def base_url(host: str, port: int) -> str:
    """The URL people type to reach ``host:port`` (IPv6 hosts in brackets).

    >>> base_url("127.0.0.1", 8765), base_url("::1", 80)
    ('http://127.0.0.1:8765', 'http://[::1]:80')
    """
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def credentials_tables(credentials: SandboxCredentials) -> tuple[Table, Table]:
    """What the merchants and apps are, without a single secret."""
    merchants = Table(title="Merchants", title_justify="left")
    for column in ("mchid", "mode", "merchant serial_no", "platform key id / cert serial"):
        merchants.add_column(column, overflow="fold")
    for merchant in credentials.merchants:
        merchants.add_row(
            merchant.mchid, merchant.mode, merchant.merchant_serial_no, merchant.platform_serial
        )
    apps = Table(title="Apps", title_justify="left")
    for column in ("appid", "type", "bound merchants"):
        apps.add_column(column, overflow="fold")
    for app in credentials.apps:
        apps.add_row(app.appid, app.type, ", ".join(app.merchants))
    return merchants, apps


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the sandbox keeps its keys (default: $PAYDESK_DATA_DIR/sandbox, else "
            "./data/sandbox).",
            show_default=False,
        ),
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Virtual seconds per wall second (retries, expiry).")
    ] = 1.0,
    seed: Annotated[
        int | None, typer.Option(help="Seed for ids and codes, for reproducible runs.")
    ] = None,
) -> None:
    """Run the offline WeChat sandbox (Pay v2/v3, login, OAuth, messages) on its own."""
    # Imported here so that other commands do not pay for the server's imports.
    import uvicorn

    from paydesk.sandbox import Sandbox, SandboxCredentials

    console = Console()
    directory = data_dir or default_data_dir()
    try:
        credentials = SandboxCredentials.load_or_create(directory)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        console.print(f"[red]Cannot use the sandbox data directory {directory}:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    box = Sandbox(credentials, speed=speed, seed=seed)
    url = base_url(host, port)
    console.print(f"[bold]paydesk sandbox[/bold] on [cyan]{url}[/cyan]  (data: {directory})")
    for table in credentials_tables(credentials):
        console.print(table)
    console.print(
        f"Keys and secrets (API v3 keys, private keys, app secrets): GET {url}/_sandbox/credentials"
    )
    uvicorn.run(box.asgi(), host=host, port=port, log_level="info")
