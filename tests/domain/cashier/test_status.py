"""The shopper's view of an order: phases, and when WeChat is asked (the server's word)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from paydesk.db.enums import PaymentChannel
from paydesk.domain.cashier import status
from paydesk.domain.cashier.status import look, phase_of, watch
from paydesk.domain.clock import FixedClock
from paydesk.domain.payments.prepay import Payer, start_payment
from tests.stack import OA_APPID, Stack, StackFactory

pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    ("state", "expired", "phase"),
    [
        ("CREATED", False, "open"),
        ("PAYING", False, "open"),
        ("CREATED", True, "expired"),
        ("PAYING", True, "expired"),
        ("PAID", True, "paid"),
        ("PARTIALLY_REFUNDED", False, "refunded"),
        ("REFUNDED", False, "refunded"),
        ("CLOSED", False, "closed"),
        ("CLOSED", True, "closed"),
    ],
)
def test_phase_table(state: str, expired: bool, phase: str) -> None:
    assert phase_of(state, expired) == phase


async def paying_order(stack: Stack) -> tuple[str, str]:
    order = await stack.create_order()
    started = await start_payment(
        stack.services, order["id"], PaymentChannel.NATIVE, Payer(appid=OA_APPID)
    )
    return order["id"], started.params["code_url"]


def count_syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = status.sync_order

    async def spy(services: Any, order_id: str, **kwargs: Any) -> Any:
        calls.append(order_id)
        return await original(services, order_id, **kwargs)

    monkeypatch.setattr(status, "sync_order", spy)
    return calls


async def test_wechat_is_asked_only_while_paying_and_on_a_shared_throttle(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_syncs(monkeypatch)
    created = await stack.create_order()
    assert (await look(stack.services, created["id"], sync="always")).state == "CREATED"
    assert calls == []  # nothing at WeChat yet: nothing to ask
    order_id, _ = await paying_order(stack)
    await look(stack.services, order_id, sync="never")
    assert calls == []
    await look(stack.services, order_id)
    await look(stack.services, order_id)
    assert calls == [order_id]  # the second look fell inside the throttle
    await look(stack.services, order_id, sync="always")
    assert calls == [order_id, order_id]


async def test_a_payment_at_wechat_becomes_paid_by_looking(stack: Stack) -> None:
    order_id, code_url = await paying_order(stack)
    dropped = await stack.sandbox_client.post("/_sandbox/faults", json={"kind": "drop"})
    assert dropped.status_code in (200, 201), dropped.text  # no notification: only a query
    paid = await stack.sandbox_client.post("/_sandbox/pay", json={"code_url": code_url})
    assert paid.status_code == 200, paid.text
    view = await look(stack.services, order_id, sync="always")
    assert (view.state, view.phase, view.final) == ("PAID", "paid", True)
    public = view.public()
    assert "mchid" not in public
    assert "appid" not in public
    assert public["paid"] is True


async def test_watch_stops_when_final_or_when_time_is_up(make_stack: StackFactory) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = await make_stack(clock=clock)
    order = await stack.create_order(expires_in=60)
    views = [v async for v in watch(stack.services, order["id"], max_seconds=0)]
    assert [v.phase for v in views] == ["open"]
    clock.advance(60)
    views = [v async for v in watch(stack.services, order["id"], max_seconds=60)]
    assert [v.phase for v in views] == ["expired"]
