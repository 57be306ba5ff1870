"""Merchant-backend order routes (API key): create, read, list, close.

POST /api/v1/orders                 Idempotency-Key supported
GET  /api/v1/orders/{id}            also for the paying user (see routes/pay.py: ?sync=true)
GET  /api/v1/orders?state=&merchant_order_id=&limit=&starting_after=
POST /api/v1/orders/{id}/close
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from paydesk.api.deps import MerchantKey, OrderId, ServicesDep, SessionDep, idempotent
from paydesk.api.errors import error_responses
from paydesk.db.enums import OrderState
from paydesk.domain.orders import closing, service
from paydesk.domain.orders.placing import place_order
from paydesk.domain.orders.views import order_view

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

MetadataValue = StrictStr | StrictInt | bool | None


class CreateOrder(BaseModel):
    """What the merchant backend sends to create an order. ``amount`` is integer fen."""

    model_config = ConfigDict(extra="forbid")

    merchant_order_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    amount: StrictInt = Field(gt=0, le=service.MAX_AMOUNT_FEN, description="integer fen")
    description: str = Field(min_length=1, max_length=127)
    mchid: str | None = Field(default=None, pattern=r"^\d{6,32}$")
    appid: str | None = Field(default=None, pattern=r"^wx[0-9a-zA-Z]{16}$")
    attach: str | None = Field(default=None, max_length=128)
    metadata: dict[Annotated[str, Field(max_length=40)], MetadataValue] = Field(
        default_factory=dict, max_length=20
    )
    expires_in: StrictInt | None = Field(default=None, ge=60, le=7 * 24 * 3600)
    payer_openid: str | None = Field(default=None, min_length=1, max_length=128)
    user_id: str | None = Field(default=None, max_length=40)


@router.post("", status_code=201, responses=error_responses(404, 409))
async def create_order(
    body: CreateOrder,
    request: Request,
    services: ServicesDep,
    key: MerchantKey,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Create an order; the amount is the merchant's word, never a client's."""
    mchid = body.mchid or key.mchid

    async def run() -> tuple[int, dict[str, Any]]:
        new = service.NewOrder(**{**body.model_dump(exclude={"mchid"}), "mchid": mchid})
        return 201, order_view(await place_order(services, new))

    return await idempotent(request, services, key, idempotency_key, body.model_dump(), run)


@router.get("", responses=error_responses(401))
async def list_orders(
    session: SessionDep,
    key: MerchantKey,
    state: OrderState | None = None,
    merchant_order_id: Annotated[str | None, Query(max_length=64)] = None,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Newest first, cursor-paginated with ``starting_after`` (the last id you saw)."""
    rows, has_more = await service.list_orders(
        session,
        mchid=key.mchid,
        state=state,
        merchant_order_id=merchant_order_id,
        starting_after=starting_after,
        limit=limit,
    )
    return {
        "object": "list",
        "data": [order_view(o) for o in rows],
        "has_more": has_more,
        "next_cursor": rows[-1].id if has_more and rows else None,
    }


@router.post("/{order_id}/close", responses=error_responses(404, 409, 502))
async def close_order(order_id: OrderId, services: ServicesDep, key: MerchantKey) -> dict[str, Any]:
    """Close an unpaid order, at WeChat first and then here."""
    order = await closing.close_order(services, order_id, mchid=key.mchid, cause="api.close")
    return order_view(order)
