"""Valid rows for database tests: each builder takes overrides for the fields a test cares about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.db.engine import session_factory
from paydesk.db.enums import DeliveryState, OrderState, RefundState
from paydesk.db.models import (
    ApiKey,
    Base,
    Delivery,
    IdempotencyKey,
    Order,
    OutboxEvent,
    Refund,
    WebhookEndpoint,
)

T0 = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)


def order(**overrides: Any) -> Order:
    """An unpaid 1.00 CNY order."""
    fields: dict[str, Any] = {
        "id": "ord_001",
        "out_trade_no": "PD20240501000001",
        "mchid": "1900000001",
        "appid": "wxd678efh567hg6787",
        "merchant_order_id": "shop-1",
        "amount": 100,
        "description": "一杯咖啡",
        "state": OrderState.CREATED,
        "expires_at": T0 + timedelta(hours=2),
        "created_at": T0,
        "updated_at": T0,
    }
    return Order(**(fields | overrides))


def refund(**overrides: Any) -> Refund:
    """A pending refund of 0.50 CNY against ``ord_001``."""
    fields: dict[str, Any] = {
        "id": "rfd_001",
        "order_id": "ord_001",
        "out_refund_no": "RF20240501000001",
        "amount": 50,
        "state": RefundState.PENDING,
        "created_at": T0,
        "updated_at": T0,
    }
    return Refund(**(fields | overrides))


def api_key(**overrides: Any) -> ApiKey:
    """A live API key (its hash is just a placeholder digest)."""
    fields: dict[str, Any] = {
        "id": "key_001",
        "name": "shop backend",
        "prefix": "pdk_live_abc",
        "key_hash": "a" * 64,
        "created_at": T0,
    }
    return ApiKey(**(fields | overrides))


def idempotency_key(**overrides: Any) -> IdempotencyKey:
    """An in-flight ``POST /api/v1/orders`` under ``key_001``."""
    fields: dict[str, Any] = {
        "id": "idk_001",
        "scope": "key_001",
        "key": "create-shop-1",
        "method": "POST",
        "path": "/api/v1/orders",
        "request_hash": "b" * 64,
        "created_at": T0,
        "locked_at": T0,
    }
    return IdempotencyKey(**(fields | overrides))


def outbox_event(**overrides: Any) -> OutboxEvent:
    """An ``order.paid`` event for ``ord_001``."""
    fields: dict[str, Any] = {
        "id": "evt_001",
        "type": "order.paid",
        "mchid": "1900000001",
        "order_id": "ord_001",
        "payload": {"id": "evt_001", "type": "order.paid", "created": 1714536000, "data": {}},
        "created_at": T0,
    }
    return OutboxEvent(**(fields | overrides))


def webhook_endpoint(**overrides: Any) -> WebhookEndpoint:
    """An enabled endpoint with one secret."""
    fields: dict[str, Any] = {
        "id": "whe_001",
        "mchid": "1900000001",
        "url": "https://shop.example/webhooks/paydesk",
        "secrets": ["whsec_one"],
        "created_at": T0,
    }
    return WebhookEndpoint(**(fields | overrides))


def delivery(**overrides: Any) -> Delivery:
    """``evt_001`` due now at ``whe_001``."""
    fields: dict[str, Any] = {
        "id": "dlv_001",
        "event_id": "evt_001",
        "endpoint_id": "whe_001",
        "state": DeliveryState.PENDING,
        "next_attempt_at": T0,
        "created_at": T0,
    }
    return Delivery(**(fields | overrides))


async def insert(engine: AsyncEngine, *rows: Base) -> None:
    """Insert ``rows`` in one committed transaction (constraint errors surface here)."""
    async with session_factory(engine)() as session, session.begin():
        session.add_all(rows)
