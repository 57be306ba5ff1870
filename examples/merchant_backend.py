"""A tiny merchant backend in front of paydesk: sells two items, hands out the pay link, and
learns about payments from paydesk's signed webhooks.

    POST /checkout                  {"sku": "gold-monthly"} → {"order_id", "merchant_order_id",
                                    "amount", "cashier_url"}
    GET  /orders/{merchant_order_id}  what this shop knows about its order
    POST /webhooks/paydesk          paydesk's events, verified with ``Paydesk-Signature``

Prices live here, never in a request: a client says *what* it buys, the backend says how much.
Orders are created with an ``Idempotency-Key`` derived from the shop's own order id, so a
retry after a lost answer returns the same order instead of creating a second one. The
webhook receiver verifies the raw body before reading it, answers 2xx quickly, and ignores an
event id it has already handled (delivery is at least once).

Run it next to ``paydesk serve`` (which printed an API key on its first start)::

    paydesk webhooks add --mchid 1900000001 --url http://127.0.0.1:8080/webhooks/paydesk
    PAYDESK_URL=http://127.0.0.1:8000 PAYDESK_API_KEY=pdk_… PAYDESK_WEBHOOK_SECRET=whsec_… \\
        python examples/merchant_backend.py
    curl -s -X POST http://127.0.0.1:8080/checkout -d '{"sku": "gold-monthly"}'

Dependencies: httpx, starlette and uvicorn (paydesk's own), and ``paydesk.webhooks`` — standard
library only (``paydesk/webhooks/signature.py``), so a shop can copy that one file instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paydesk.webhooks import SIGNATURE_HEADER, WebhookVerificationError, verify

#: What the shop sells: sku → (price in fen, description). Integer fen, never floats.
CATALOGUE: dict[str, tuple[int, str]] = {
    "gold-monthly": (1999, "黄金会员 月卡"),
    "gold-yearly": (19900, "黄金会员 年卡"),
}


class PaydeskError(Exception):
    """paydesk refused a request: ``status`` and the error's ``code`` say why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class Paydesk:
    """The few paydesk calls a shop needs, with its API key.

    ``transport`` is for tests (an in-process paydesk); leave it out in production.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        attempts: int = 3,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
            timeout=10.0,
        )
        self._attempts = attempts

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def _send(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """One call; sent again (same bytes, same Idempotency-Key) after a network error or a
        5xx — safe because paydesk replays the first answer for a repeated key."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(method, path, **options)
            except httpx.TransportError:
                if attempt >= self._attempts:
                    raise
                await asyncio.sleep(0.2 * attempt)
                continue
            if response.status_code >= 500 and attempt < self._attempts:
                await asyncio.sleep(0.2 * attempt)
                continue
            if response.is_error:
                error = response.json().get("error", {})
                code, message = error.get("code", ""), error.get("message", "")
                raise PaydeskError(response.status_code, code, message)
            answer: dict[str, Any] = response.json()
            return answer

    async def create_order(
        self, *, merchant_order_id: str, amount: int, description: str, **extra: Any
    ) -> dict[str, Any]:
        """``POST /api/v1/orders``; ``extra``: ``user_id``, ``expires_in``, ``metadata``…"""
        body = {
            "merchant_order_id": merchant_order_id,
            "amount": amount,
            "description": description,
            **extra,
        }
        return await self._send(
            "POST",
            "/api/v1/orders",
            json=body,
            headers={"Idempotency-Key": f"create-{merchant_order_id}"},
        )

    async def cashier_url(self, order_id: str) -> str:
        """The pay page for the shopper: WeChat's browser, a phone browser or a computer."""
        link = await self._send("POST", f"/api/v1/orders/{order_id}/cashier")
        url: str = link["url"]
        return url

    async def order(self, order_id: str) -> dict[str, Any]:
        """``GET /api/v1/orders/{id}``."""
        return await self._send("GET", f"/api/v1/orders/{order_id}")


@dataclass
class Shop:
    """The shop's own records (a database in real life): its orders and the events it saw."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_events: set[str] = field(default_factory=set)

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one paydesk event; False when it was applied before (a redelivery)."""
        if event["id"] in self.seen_events:
            return False
        self.seen_events.add(event["id"])
        data = event.get("data", {})
        mine = self.orders.get(str(data.get("merchant_order_id")))
        if mine is not None and event["type"] == "order.paid":
            mine.update(state="paid", transaction_id=data.get("transaction_id"))
        elif mine is not None and event["type"] == "order.closed":
            mine.update(state="closed")
        return True


def create_app(paydesk: Paydesk, webhook_secret: str, shop: Shop | None = None) -> Starlette:
    """The shop's HTTP app."""
    records = shop if shop is not None else Shop()

    async def checkout(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "send JSON"}, 400)
        if not isinstance(body, dict) or set(body) != {"sku"} or body["sku"] not in CATALOGUE:
            return JSONResponse({"error": f"send {{'sku': one of {sorted(CATALOGUE)}}}"}, 400)
        amount, description = CATALOGUE[body["sku"]]
        merchant_order_id = f"shop-{secrets.token_hex(6)}"
        order = await paydesk.create_order(
            merchant_order_id=merchant_order_id, amount=amount, description=description
        )
        records.orders[merchant_order_id] = {
            "sku": body["sku"],
            "amount": amount,
            "order_id": order["id"],
            "state": "unpaid",
        }
        return JSONResponse(
            {
                "order_id": order["id"],
                "merchant_order_id": merchant_order_id,
                "amount": amount,
                "cashier_url": await paydesk.cashier_url(order["id"]),
            },
            201,
        )

    async def show(request: Request) -> Response:
        found = records.orders.get(request.path_params["merchant_order_id"])
        return JSONResponse(found) if found else JSONResponse({"error": "no such order"}, 404)

    async def webhook(request: Request) -> Response:
        payload = await request.body()  # the raw bytes: the signature covers exactly these
        try:
            event = verify(payload, request.headers.get(SIGNATURE_HEADER, ""), webhook_secret)
        except WebhookVerificationError as exc:
            return JSONResponse({"error": exc.reason}, 400)
        fresh = records.apply(event)
        return JSONResponse({"received": event["id"], "duplicate": not fresh})

    app = Starlette(
        routes=[
            Route("/checkout", checkout, methods=["POST"]),
            Route("/orders/{merchant_order_id}", show, methods=["GET"]),
            Route("/webhooks/paydesk", webhook, methods=["POST"]),
        ]
    )
    app.state.shop = records
    return app


def main() -> None:
    """Serve the shop on 127.0.0.1:8080 (``PAYDESK_URL``, ``PAYDESK_API_KEY``,
    ``PAYDESK_WEBHOOK_SECRET`` from the environment)."""
    import uvicorn

    paydesk = Paydesk(
        os.environ.get("PAYDESK_URL", "http://127.0.0.1:8000"), os.environ["PAYDESK_API_KEY"]
    )
    app = create_app(paydesk, os.environ["PAYDESK_WEBHOOK_SECRET"])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))


if __name__ == "__main__":
    main()
