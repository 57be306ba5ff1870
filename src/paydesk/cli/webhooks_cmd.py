"""``paydesk webhooks``: the merchant's endpoints, their secrets, deliveries and resends.

    $ paydesk webhooks add --mchid 1900000001 --url https://shop.example/hooks/paydesk
    $ paydesk webhooks list                    # endpoints, then the latest deliveries
    $ paydesk webhooks resend evt_01HV…        # again, to every enabled endpoint (same id)
    $ paydesk webhooks rotate whe_01HV…        # a new secret; both sign until `retire`

A secret is printed once, by ``add`` and ``rotate``; ``list`` shows how many are active, never
which. The database and domain modules are imported inside the commands (about a second of
imports), so that ``paydesk --help`` and the other commands start fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from paydesk.db.models import WebhookEndpoint
    from paydesk.domain.context import Services
    from paydesk.domain.webhooks import DeliveryView

app = typer.Typer(help="Webhook endpoints, secrets, deliveries and resends.", no_args_is_help=True)

_T = TypeVar("_T")
#: Colour of each ``DeliveryState`` (keyed by value: the enum lives with the models).
_STATE_STYLE = {"PENDING": "yellow", "DELIVERED": "green", "DEAD": "red"}


def _run(action: Callable[[Services], Awaitable[_T]]) -> _T:
    """Run ``action`` with the process's services; a domain error becomes a red line, exit 1."""
    from paydesk.domain.context import build_services
    from paydesk.domain.errors import DomainError
    from paydesk.settings import load_settings_and_config

    async def main() -> _T:
        services = build_services(*load_settings_and_config())
        try:
            return await action(services)
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        Console(stderr=True).print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(code=1) from exc


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def endpoints_table(endpoints: list[WebhookEndpoint]) -> Table:
    """Endpoints without their secrets: only how many are active."""
    table = Table(title="Webhook endpoints", title_justify="left")
    for column in ("id", "mchid", "url", "enabled", "secrets", "created (UTC)"):
        table.add_column(column, overflow="fold")
    for endpoint in endpoints:
        table.add_row(
            endpoint.id,
            endpoint.mchid,
            endpoint.url,
            "yes" if endpoint.enabled else "[red]no[/red]",
            str(len(endpoint.secrets)),
            _when(endpoint.created_at),
        )
    return table


def deliveries_table(deliveries: list[DeliveryView]) -> Table:
    """The latest deliveries: where each event stands at each endpoint."""
    from paydesk.db.enums import DeliveryState

    table = Table(title="Recent deliveries", title_justify="left")
    for column in ("delivery", "event", "type", "endpoint", "state", "attempts", "last status",
                   "next try / delivered (UTC)"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for delivery in deliveries:
        style = _STATE_STYLE[delivery.state.value]
        moment = (
            delivery.delivered_at
            if delivery.state is DeliveryState.DELIVERED
            else (delivery.next_attempt_at if delivery.state is DeliveryState.PENDING else None)
        )
        table.add_row(
            delivery.id,
            delivery.event_id,
            delivery.event_type,
            delivery.endpoint_id,
            f"[{style}]{delivery.state.value}[/{style}]",
            str(delivery.attempts),
            "—" if delivery.last_status is None else str(delivery.last_status),
            _when(moment),
        )
    return table


@app.command("add")
def add(
    mchid: Annotated[str, typer.Option(help="The merchant whose events go to this URL.")],
    url: Annotated[str, typer.Option(help="Absolute http(s) URL of the receiver.")],
) -> None:
    """Register an endpoint and print its signing secret (shown this once)."""
    from paydesk.domain.webhooks import add_endpoint

    async def action(services: Services) -> tuple[WebhookEndpoint, str]:
        async with services.db.begin() as session:
            return await add_endpoint(
                session, mchid=mchid, url=url, ids=services.ids, now=services.clock.now()
            )

    endpoint, secret = _run(action)
    console = Console()
    console.print(f"Endpoint [bold]{endpoint.id}[/bold] for merchant {mchid}: {endpoint.url}")
    console.print(f"Signing secret (shown once, store it now): [bold]{secret}[/bold]")


@app.command("list")
def list_(
    mchid: Annotated[str | None, typer.Option(help="Only this merchant.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many recent deliveries.")] = 20,
) -> None:
    """Show the endpoints, then the latest deliveries with state, attempts and last status."""
    from paydesk.domain.webhooks import list_endpoints, recent_deliveries

    async def action(services: Services) -> tuple[list[WebhookEndpoint], list[DeliveryView]]:
        async with services.db() as session:
            return (
                await list_endpoints(session, mchid=mchid),
                await recent_deliveries(session, limit=limit, mchid=mchid),
            )

    endpoints, deliveries = _run(action)
    console = Console()
    console.print(endpoints_table(endpoints))
    console.print(deliveries_table(deliveries))


@app.command("resend")
def resend_(
    target: Annotated[str, typer.Argument(help="An event id (evt_…) or a delivery id (dlv_…).")],
) -> None:
    """Send an event again (same id) to every enabled endpoint, or one delivery again."""
    from paydesk.domain.webhooks import resend

    async def action(services: Services) -> list[tuple[str, str, str]]:
        async with services.db.begin() as session:
            deliveries = await resend(session, target, ids=services.ids, now=services.clock.now())
            return [(d.id, d.event_id, d.endpoint_id) for d in deliveries]

    console = Console()
    for delivery_id, event_id, endpoint_id in _run(action):
        console.print(f"{delivery_id}: {event_id} → {endpoint_id} is due now")
    console.print("A running `paydesk worker` sends them within seconds.")


@app.command("rotate")
def rotate(endpoint_id: Annotated[str, typer.Argument(help="The endpoint (whe_…).")]) -> None:
    """Add a new secret; the old one keeps signing until `paydesk webhooks retire`."""
    from paydesk.domain.webhooks import rotate_secret

    async def action(services: Services) -> str:
        async with services.db.begin() as session:
            return await rotate_secret(session, endpoint_id, ids=services.ids)

    secret = _run(action)
    console = Console()
    console.print(f"New signing secret (shown once, store it now): [bold]{secret}[/bold]")
    console.print(
        "Requests now carry two v1= signatures. Once every receiver uses the new secret, run "
        f"`paydesk webhooks retire {endpoint_id}`."
    )


def _change_endpoint(endpoint_id: str, change: str, done: str) -> None:
    """Apply ``paydesk.domain.webhooks.<change>`` to one endpoint; print ``done``."""
    from paydesk.domain import webhooks

    operation = getattr(webhooks, change)

    async def action(services: Services) -> WebhookEndpoint:
        async with services.db.begin() as session:
            changed: WebhookEndpoint = await operation(session, endpoint_id)
            return changed

    _run(action)
    Console().print(f"{endpoint_id} {done}")


@app.command("retire")
def retire(endpoint_id: Annotated[str, typer.Argument(help="The endpoint (whe_…).")]) -> None:
    """Drop the old secret after a rotation; only the newest keeps signing."""
    _change_endpoint(endpoint_id, "retire_old_secret", "now signs with its newest secret only.")


@app.command("disable")
def disable(endpoint_id: Annotated[str, typer.Argument(help="The endpoint (whe_…).")]) -> None:
    """Stop sending to an endpoint (its pending deliveries wait)."""
    _change_endpoint(endpoint_id, "disable_endpoint", "is disabled.")


@app.command("enable")
def enable(endpoint_id: Annotated[str, typer.Argument(help="The endpoint (whe_…).")]) -> None:
    """Send to an endpoint again, starting with what waited."""
    _change_endpoint(endpoint_id, "enable_endpoint", "is enabled.")
