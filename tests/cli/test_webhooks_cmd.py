"""``paydesk webhooks``: add, list, resend, rotate, retire, disable, enable — on the test DB."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from paydesk.cli import app
from paydesk.db.engine import session_factory
from paydesk.db.enums import DeliveryState
from paydesk.db.models import Delivery, WebhookEndpoint
from paydesk.domain.clock import FixedClock
from paydesk.domain.webhooks import publish_pending
from tests.domain.webhooks.world import T0, new_event, reproducible_ids

pytestmark = pytest.mark.backends

URL = "https://shop.example/hooks/paydesk"


async def paydesk(database_url: str, *args: str) -> Result:
    """Run the CLI in a thread (it starts its own event loop) against the test database."""
    env: dict[str, str | None] = {
        "PAYDESK_DATABASE_URL": database_url,
        "COLUMNS": "250",
        "PAYDESK_CONFIG_FILE": None,  # no merchants needed
    }
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def endpoints(db_engine: AsyncEngine) -> list[WebhookEndpoint]:
    async with session_factory(db_engine)() as session:
        return list((await session.scalars(select(WebhookEndpoint))).all())


async def add(database_url: str) -> tuple[str, str]:
    result = await paydesk(database_url, "webhooks", "add", "--mchid", "1900000001", "--url", URL)
    assert result.exit_code == 0, result.output
    endpoint_id = re.search(r"Endpoint (whe_\w+)", result.output)
    secret = re.search(r"(whsec_\w+)", result.output)
    assert endpoint_id, result.output
    assert secret, result.output
    return endpoint_id[1], secret[1]


async def test_add_prints_the_secret_once_and_list_never_does(
    database_url: str, db_engine: AsyncEngine
) -> None:
    endpoint_id, secret = await add(database_url)
    [stored] = await endpoints(db_engine)
    assert (stored.id, stored.url, stored.secrets) == (endpoint_id, URL, [secret])
    assert "shown once" in (await paydesk(database_url, "webhooks", "add", "--mchid", "1",
                                          "--url", URL)).output  # fmt: skip

    db = session_factory(db_engine)
    clock = FixedClock(T0)
    event = await new_event(db, ids=reproducible_ids(clock), clock=clock)
    async with db.begin() as session:
        await publish_pending(session, ids=reproducible_ids(clock, 1), now=T0)
    listed = await paydesk(database_url, "webhooks", "list")
    assert listed.exit_code == 0, listed.output
    assert "Webhook endpoints" in listed.output
    assert "Recent deliveries" in listed.output
    assert endpoint_id in listed.output
    assert event in listed.output
    assert "PENDING" in listed.output
    assert "whsec_" not in listed.output
    only_other = await paydesk(database_url, "webhooks", "list", "--mchid", "1")
    assert event not in only_other.output


async def test_add_refuses_a_bad_url(database_url: str, db_engine: AsyncEngine) -> None:
    result = await paydesk(database_url, "webhooks", "add", "--mchid", "1900000001", "--url",
                           "ftp://x")  # fmt: skip
    assert result.exit_code == 1
    assert "absolute http(s) URL" in result.output
    assert await endpoints(db_engine) == []


async def test_rotate_then_retire(database_url: str, db_engine: AsyncEngine) -> None:
    endpoint_id, first = await add(database_url)
    rotated = await paydesk(database_url, "webhooks", "rotate", endpoint_id)
    assert rotated.exit_code == 0, rotated.output
    match = re.search(r"(whsec_\w+)", rotated.output)
    assert match
    second = match[1]
    assert f"paydesk webhooks retire {endpoint_id}" in rotated.output
    assert [e.secrets for e in await endpoints(db_engine)] == [[second, first]]
    retired = await paydesk(database_url, "webhooks", "retire", endpoint_id)
    assert retired.exit_code == 0, retired.output
    assert [e.secrets for e in await endpoints(db_engine)] == [[second]]


async def test_disable_and_enable(database_url: str, db_engine: AsyncEngine) -> None:
    endpoint_id, _ = await add(database_url)
    assert (await paydesk(database_url, "webhooks", "disable", endpoint_id)).exit_code == 0
    assert [e.enabled for e in await endpoints(db_engine)] == [False]
    assert (await paydesk(database_url, "webhooks", "enable", endpoint_id)).exit_code == 0
    assert [e.enabled for e in await endpoints(db_engine)] == [True]


async def test_resend_an_event(database_url: str, db_engine: AsyncEngine) -> None:
    endpoint_id, _ = await add(database_url)
    db = session_factory(db_engine)
    clock = FixedClock(T0)
    event = await new_event(db, ids=reproducible_ids(clock), clock=clock)
    result = await paydesk(database_url, "webhooks", "resend", event)
    assert result.exit_code == 0, result.output
    assert f"{event} → {endpoint_id} is due now" in result.output
    async with db() as session:
        [delivery] = (await session.scalars(select(Delivery))).all()
    assert (delivery.event_id, delivery.state) == (event, DeliveryState.PENDING)


@pytest.mark.parametrize("command", ["resend", "rotate", "retire", "disable", "enable"])
async def test_unknown_ids_are_reported(database_url: str, command: str) -> None:
    result = await paydesk(database_url, "webhooks", command, "whe_missing")
    assert result.exit_code == 1
    assert "whe_missing" in result.output
