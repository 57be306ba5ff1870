"""Refund test flows against the in-process stack: paid orders, refunds, the sandbox's side.

order = await paid_order(stack, amount=30)
answer = await ask_refund(stack, order["id"], 10)
await settle_at_wechat(stack)          # the sandbox settles due refunds and notifies
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from paydesk.client import Endpoints, WeChatClient
from paydesk.db.enums import OrderState, PaymentChannel
from paydesk.domain.accounts import accounts
from paydesk.domain.payments.prepay import Payer, start_payment
from paydesk.domain.payments.sync import sync_order
from tests.stack import MINI_APPID, PUBLIC_KEY_MCHID, SANDBOX_URL, Stack

#: The sandbox keeps a refund PROCESSING this long (virtual seconds) before it settles.
REFUND_DELAY = 5.0


async def paid_order(stack: Stack, *, amount: int = 100, mchid: str = PUBLIC_KEY_MCHID) -> Any:
    """A PAID order: created through the API, paid by the sandbox's payer (Native QR)."""
    order = await stack.create_order(amount=amount, mchid=mchid)
    started = await start_payment(
        stack.services, order["id"], PaymentChannel.NATIVE, Payer(appid=MINI_APPID)
    )
    paid = await stack.sandbox_client.post(
        "/_sandbox/pay", json={"code_url": started.payment.code_url, "result": "SUCCESS"}
    )
    assert paid.status_code == 200, paid.text
    synced = await sync_order(stack.services, order["id"])
    assert synced.order.state == OrderState.PAID
    answer = await stack.api.get(f"/api/v1/orders/{order['id']}", headers=stack.merchant_headers)
    return answer.json()


async def ask_refund(
    stack: Stack, order_id: str, amount: int, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    """``POST /api/v1/orders/{id}/refunds`` as the merchant."""
    return await stack.api.post(
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount": amount, **fields},
        headers={**stack.merchant_headers, **(headers or {})},
    )


async def settle_at_wechat(stack: Stack) -> None:
    """Let the sandbox's refund delay pass, settle what fell due, deliver its notifications."""
    stack.sandbox.clock.advance(REFUND_DELAY + 1)
    await stack.sandbox.pay.drain()


async def wechat_refunds(stack: Stack, out_trade_no: str) -> list[dict[str, Any]]:
    """The refunds the sandbox has for one trade number."""
    answer = await stack.sandbox_client.get(
        "/_sandbox/orders", params={"out_trade_no": out_trade_no}
    )
    (order,) = answer.json()["orders"]
    refunds: list[dict[str, Any]] = order["refunds"]
    return refunds


async def fault(stack: Stack, **rule: Any) -> None:
    """Switch a sandbox fault on (``kind``, ``path``, ``times``, ``seconds``…)."""
    added = await stack.sandbox_client.post("/_sandbox/faults", json=rule)
    assert added.status_code == 200, added.text


async def refund_json(stack: Stack, refund_id: str) -> Any:
    """``GET /api/v1/refunds/{id}``."""
    answer = await stack.api.get(f"/api/v1/refunds/{refund_id}", headers=stack.merchant_headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def order_json(stack: Stack, order_id: str) -> Any:
    """``GET /api/v1/orders/{id}``."""
    answer = await stack.api.get(f"/api/v1/orders/{order_id}", headers=stack.merchant_headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


@asynccontextmanager
async def impatient_wechat(stack: Stack, wait: float) -> AsyncIterator[None]:
    """Within the block, the stack's WeChat client waits only ``wait`` seconds for an answer
    (to lose answers on purpose with the sandbox's ``timeout`` fault)."""
    merchants, apps = accounts(stack.services.registry.config)
    client = WeChatClient(
        merchants=merchants,
        apps=apps,
        endpoints=Endpoints.sandbox(SANDBOX_URL),
        transport=httpx.ASGITransport(app=stack.sandbox.asgi()),
        timeout=wait,
    )
    original, stack.services.wechat = stack.services.wechat, client
    try:
        yield
    finally:
        stack.services.wechat = original
        await client.aclose()
