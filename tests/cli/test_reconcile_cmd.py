"""``paydesk reconcile``: the whole command against a sandbox over HTTP — tables, CSV, anomalies
and the exit status (0 agrees, 1 differs, 2 no bill)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from paydesk.cli import app
from paydesk.db.models import Anomaly
from paydesk.protocol.times import BEIJING
from tests.chaos.harness import serving, write_config
from tests.domain.sweeps.world import drop_notifications, pay_at_wechat, paying_order
from tests.stack import CERTIFICATE_MCHID, PAYDESK_URL, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


@pytest.fixture
async def sandbox_url(stack: Stack) -> AsyncIterator[str]:
    """The stack's sandbox over real HTTP, served from the test's event loop."""
    async with serving(stack.sandbox.asgi()) as url:
        yield url


@pytest.fixture
def env(stack: Stack, sandbox_url: str, database_url: str, tmp_path: Path) -> dict[str, str]:
    """The command's environment: the test database, the sandbox as WeChat, its merchants."""
    config = write_config(tmp_path / "config", stack.sandbox.credentials, api_versions={})
    return {
        "PAYDESK_DATABASE_URL": database_url,
        "PAYDESK_CONFIG_FILE": str(config),
        "PAYDESK_WECHAT_PAY_BASE_URL": sandbox_url,
        "PAYDESK_WECHAT_API_BASE_URL": sandbox_url,
        "PAYDESK_PUBLIC_URL": PAYDESK_URL,
        "PAYDESK_DATA_DIR": str(tmp_path),
    }


async def run(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, app, ["reconcile", *args], env={**env, "COLUMNS": "200"}
    )


def yesterday(stack: Stack) -> str:
    """Move WeChat's (virtual) day on by one; the day whose bill now exists."""
    day = stack.sandbox.clock.now().astimezone(BEIJING).date()
    stack.sandbox.clock.advance(timedelta(days=1).total_seconds())
    return day.isoformat()


async def test_a_day_with_a_difference_exits_1_writes_csv_and_records_an_anomaly(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    paid = await paying_order(stack, amount=321)
    await pay_at_wechat(stack, paid)
    await stack.sandbox.pay.drain()  # notified: PAID here too
    await drop_notifications(stack)
    unnotified = await paying_order(stack, amount=90)
    await pay_at_wechat(stack, unnotified)  # PAYING here, SUCCESS at WeChat
    day = yesterday(stack)
    out = tmp_path / "diff.csv"

    result = await run(env, "--date", day, "--out", str(out))

    assert result.exit_code == 1, result.output
    assert "state differs" in result.output
    assert unnotified.out_trade_no in result.output
    assert "1 difference(s), 0 fen apart" in result.output
    with out.open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    assert [
        (r["mchid"], r["kind"], r["reference"], r["ours_state"], r["theirs_state"]) for r in rows
    ] == [(PUBLIC_KEY_MCHID, "state_differs", unnotified.out_trade_no, "PAYING", "SUCCESS")]
    async with stack.services.db() as session:
        kinds = list(await session.scalars(select(Anomaly.kind)))
    assert kinds == ["reconcile_state_differs"]

    clean = await run(env, "--date", day, "--mchid", CERTIFICATE_MCHID)
    assert clean.exit_code == 0, clean.output
    assert "agrees with paydesk, to the fen" in clean.output


async def test_a_day_whose_bill_is_not_made_yet_exits_2(stack: Stack, env: dict[str, str]) -> None:
    today = stack.sandbox.clock.now().astimezone(BEIJING).date().isoformat()
    result = await run(env, "--date", today, "--mchid", PUBLIC_KEY_MCHID)
    assert result.exit_code == 2, result.output
    assert "NO_STATEMENT_EXIST" in result.output


async def test_an_unknown_merchant_exits_2(stack: Stack, env: dict[str, str]) -> None:
    result = await run(env, "--date", "2026-03-01", "--mchid", "1234567890")
    assert result.exit_code == 2
    assert "no merchant 1234567890 is configured" in result.output


def test_a_date_that_is_not_one_is_refused() -> None:
    result = CliRunner().invoke(app, ["reconcile", "--date", "2026-02-30"])
    assert result.exit_code == 2
    assert "is not a date like 2026-03-01" in result.output


def test_the_help_lists_the_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "reconcile" in result.output
