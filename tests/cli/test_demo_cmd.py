"""``paydesk demo``: the whole mini program flow ends PAID (exit 0), every step is printed, and
each way it can fail is a clear message with exit status 1."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from paydesk.api.serve import Runtime
from paydesk.cli import app, demo_cmd
from paydesk.cli.demo_cmd import DemoFailed, expect


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def run() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["demo"])
    return result.exit_code, result.output


@pytest.mark.slow
def test_the_demo_pays_an_order_and_exits_0() -> None:
    code, output = run()
    assert code == 0, output
    for number in range(1, 9):
        assert f"{number:>2}. " in output
    assert "in-process (no port opened)" in output
    assert "Idempotent-Replayed" in output
    assert "signType: RSA" in output
    assert "paySign:" in output
    assert "(344 chars)" in output
    assert "requestPayment:ok" in output
    assert "POST http://paydesk.demo/api/v1/notify/wechatpay/v3/1900000001" in output
    assert "204 in" in output
    assert "state: PAID" in output
    assert "990 fen (¥9.90)" in output
    assert output.rstrip().endswith("PAID — the whole flow, with no WeChat account.")


def test_a_failed_step_exits_1_with_what_to_try(monkeypatch: pytest.MonkeyPatch) -> None:
    async def failing(*_: Any) -> dict[str, Any]:
        raise DemoFailed("pay", "POST /api/v1/orders/x/pay → 502 upstream", "look at the log")

    monkeypatch.setattr(demo_cmd, "drive", failing)
    code, output = run()
    assert code == 1
    assert "The demo failed at “pay”: POST /api/v1/orders/x/pay → 502 upstream" in output
    assert "Try: look at the log" in output


def test_an_order_that_is_not_paid_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unpaid(*_: Any) -> dict[str, Any]:
        return {
            "id": "ord_1",
            "state": "PAYING",
            "amount": 990,
            "description": "d",
            "merchant_order_id": "m",
            "out_trade_no": "PD1",
            "mchid": "1900000001",
            "appid": "wx5a0d5a0d00000001",
            "created_at": "2026-01-01T00:00:00Z",
        }

    monkeypatch.setattr(demo_cmd, "drive", unpaid)
    code, output = run()
    assert code == 1
    assert "The order ended PAYING, not PAID." in output
    assert "PAYING" in output
    assert "990 fen" in output


def test_a_transport_failure_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any) -> dict[str, Any]:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(demo_cmd, "drive", broken)
    code, output = run()
    assert code == 1
    assert "The demo failed: ConnectError: refused" in output


def answer(status: int, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "http://d/api/v1/x"), **kwargs)


def test_expect_names_the_error_and_a_missing_route() -> None:
    assert expect("s", answer(200, json={"a": 1}), 200, "h") == {"a": 1}
    with pytest.raises(DemoFailed) as caught:
        expect("s", answer(409, json={"error": {"code": "conflict"}}), 200, "retry")
    assert "409" in caught.value.what
    assert "conflict" in caught.value.what
    assert caught.value.hint == "retry"
    with pytest.raises(DemoFailed) as caught:
        expect("s", answer(404, json={"error": {"code": "not_found"}}), 200, "retry")
    assert "no such endpoint" in caught.value.hint
    with pytest.raises(DemoFailed) as caught:
        expect("s", answer(500, text="Internal Server Error"), 200, "retry")
    assert "500 Internal Server Error" in caught.value.what


async def test_waiting_for_a_notification_that_never_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_cmd, "NOTIFY_TIMEOUT", 0.1)
    attempts = [{"acknowledged": False, "status": 500, "error": None}]

    def sandbox(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"attempts": attempts})

    async with httpx.AsyncClient(transport=httpx.MockTransport(sandbox), base_url="http://d") as c:
        with pytest.raises(DemoFailed, match="last attempt 500"):
            await demo_cmd._wait_for_notification(c, "PD1")
        attempts.clear()
        with pytest.raises(DemoFailed, match="none was sent"):
            await demo_cmd._wait_for_notification(c, "PD1")


def test_a_database_that_already_had_a_key_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_first_key(self: Runtime) -> str | None:
        return None

    monkeypatch.setattr(Runtime, "prepare", no_first_key)
    code, output = run()
    assert code == 1
    assert "already had an API key" in output
