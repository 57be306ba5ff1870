"""examples/merchant_backend.py, for real: the shop in front of an in-process paydesk and
sandbox — checkout, the pay link, an idempotent retry, and paydesk's own webhook worker
delivering ``order.paid`` to the shop's receiver."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from paydesk.db.models import Delivery
from paydesk.domain.webhooks import add_endpoint
from paydesk.webhooks import sign
from paydesk.workers.delivery import deliver_due, publish
from paydesk.workers.runner import JobContext
from tests.stack import PAYDESK_URL, PUBLIC_KEY_MCHID, Stack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "merchant_backend.py"
SHOP_URL = "http://shop.test"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_merchant_backend", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


backend = load_example()


class Shop:
    """The example shop wired to the stack's paydesk, with its webhook secret."""

    def __init__(self, stack: Stack, secret: str, transport: httpx.AsyncBaseTransport) -> None:
        self.secret = secret
        self.paydesk = backend.Paydesk(PAYDESK_URL, stack.api_key, transport=transport)
        self.app = backend.create_app(self.paydesk, secret)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=SHOP_URL
        )

    @property
    def records(self) -> Any:
        return self.app.state.shop

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.paydesk.aclose()


async def webhook_secret(stack: Stack) -> str:
    """Register the shop's receiver as the merchant's webhook endpoint."""
    async with stack.services.db.begin() as session:
        _, secret = await add_endpoint(
            session,
            mchid=PUBLIC_KEY_MCHID,
            url=f"{SHOP_URL}/webhooks/paydesk",
            ids=stack.services.ids,
            now=stack.services.clock.now(),
        )
    return secret


@pytest.fixture
async def shop(stack: Stack) -> AsyncIterator[Shop]:
    opened = Shop(stack, await webhook_secret(stack), httpx.ASGITransport(app=stack.app))
    yield opened
    await opened.aclose()


async def pay_in_sandbox(stack: Stack, order_id: str) -> None:
    """The shopper pays (by Native QR here) and WeChat notifies paydesk."""
    answer = await stack.api.post(
        f"/api/v1/orders/{order_id}/pay", json={"channel": "native"}, headers=stack.merchant_headers
    )
    assert answer.status_code == 200, answer.text
    paid = await stack.sandbox_client.post(
        "/_sandbox/pay", json={"code_url": answer.json()["params"]["code_url"]}
    )
    assert paid.status_code == 200, paid.text
    await stack.sandbox.pay.drain()


async def run_webhook_worker(stack: Stack, shop: Shop) -> int:
    """paydesk's webhook jobs, once, sending to the shop in-process."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app)) as http:
        ctx = JobContext(
            db=stack.services.db,
            clock=stack.services.clock,
            ids=stack.services.ids,
            http=http,
            rng=random.Random(1),
        )
        await publish(ctx)
        return await deliver_due(ctx)


async def test_checkout_creates_the_order_at_paydesk_and_hands_out_the_link(
    stack: Stack, shop: Shop
) -> None:
    answer = await shop.client.post("/checkout", json={"sku": "gold-monthly"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["amount"] == 1999
    assert body["cashier_url"].startswith(f"{PAYDESK_URL}/pay/")
    order = await stack.api.get(
        f"/api/v1/orders/{body['order_id']}", headers=stack.merchant_headers
    )
    assert order.json()["merchant_order_id"] == body["merchant_order_id"]
    assert (order.json()["amount"], order.json()["state"]) == (1999, "CREATED")
    page = await stack.api.get(body["cashier_url"])  # a computer: the QR page
    assert page.status_code == 200, page.text
    mine = await shop.client.get(f"/orders/{body['merchant_order_id']}")
    assert mine.json()["state"] == "unpaid"


@pytest.mark.parametrize(
    "body", [{"sku": "diamond"}, {"sku": "gold-monthly", "amount": 1}, ["gold-monthly"], "x"]
)
async def test_the_shop_prices_its_items_itself(shop: Shop, body: Any) -> None:
    answer = await shop.client.post("/checkout", json=body)
    assert answer.status_code == 400, answer.text
    missing = await shop.client.get("/orders/shop-nope")
    assert missing.status_code == 404
    garbled = await shop.client.post("/checkout", content=b"{")
    assert garbled.status_code == 400


class FirstAnswerLost(httpx.AsyncBaseTransport):
    """paydesk gets the first request and acts on it, but its answer never arrives."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        if len(self.requests) == 1:
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response


async def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_order(
    stack: Stack,
) -> None:
    lossy = FirstAnswerLost(stack.app)
    paydesk = backend.Paydesk(PAYDESK_URL, stack.api_key, transport=lossy)
    try:
        order = await paydesk.create_order(
            merchant_order_id="shop-retry-1", amount=500, description="重试"
        )
    finally:
        await paydesk.aclose()
    keys = {request.headers["Idempotency-Key"] for request in lossy.requests}
    assert keys == {"create-shop-retry-1"}
    assert len(lossy.requests) == 2
    listed = await stack.api.get(
        "/api/v1/orders",
        params={"merchant_order_id": "shop-retry-1"},
        headers=stack.merchant_headers,
    )
    assert [o["id"] for o in listed.json()["data"]] == [order["id"]]


async def test_paydesk_refusals_surface_as_errors(stack: Stack) -> None:
    paydesk = backend.Paydesk(PAYDESK_URL, "pdk_wrong", transport=httpx.ASGITransport(stack.app))
    try:
        with pytest.raises(backend.PaydeskError) as refused:
            await paydesk.order("ord_nope")
    finally:
        await paydesk.aclose()
    assert refused.value.status == 401


async def test_the_paid_webhook_from_paydesk_marks_the_shop_order_paid(
    stack: Stack, shop: Shop
) -> None:
    body = (await shop.client.post("/checkout", json={"sku": "gold-yearly"})).json()
    await pay_in_sandbox(stack, body["order_id"])
    assert await run_webhook_worker(stack, shop) == 1
    mine = (await shop.client.get(f"/orders/{body['merchant_order_id']}")).json()
    assert mine["state"] == "paid"
    assert mine["transaction_id"]
    async with stack.services.db() as session:
        [delivery] = await session.scalars(select(Delivery))
    assert str(delivery.state) == "DELIVERED"


async def test_the_receiver_refuses_forgeries_and_ignores_redeliveries(
    stack: Stack, shop: Shop
) -> None:
    body = (await shop.client.post("/checkout", json={"sku": "gold-monthly"})).json()
    now = int(stack.services.clock.now().timestamp())

    def event(event_id: str, kind: str) -> bytes:
        data = {"merchant_order_id": body["merchant_order_id"], "transaction_id": None}
        envelope = {"id": event_id, "type": kind, "created": now, "data": data}
        return json.dumps(envelope).encode()

    async def deliver(payload: bytes, secret: str | None) -> httpx.Response:
        headers = {} if secret is None else {"Paydesk-Signature": sign(payload, [secret], now)}
        return await shop.client.post("/webhooks/paydesk", content=payload, headers=headers)

    closed = event("evt_test_1", "order.closed")
    assert (await deliver(closed, "whsec_not_ours")).status_code == 400
    assert (await deliver(closed, None)).status_code == 400
    assert shop.records.orders[body["merchant_order_id"]]["state"] == "unpaid"
    first = await deliver(closed, shop.secret)
    assert first.json() == {"received": "evt_test_1", "duplicate": False}
    assert shop.records.orders[body["merchant_order_id"]]["state"] == "closed"
    again = await deliver(closed, shop.secret)
    assert again.json() == {"received": "evt_test_1", "duplicate": True}
    someone_elses = json.dumps({"id": "evt_2", "type": "order.paid", "data": {}}).encode()
    assert (await deliver(someone_elses, shop.secret)).json()["duplicate"] is False
