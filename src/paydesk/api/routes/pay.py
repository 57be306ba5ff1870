"""Paying an order and reading it: the mini program user's routes, shared with the merchant.

POST /api/v1/orders/{id}/pay   user (pds_…)          {"channel": "miniprogram"} → wx.requestPayment
                                                     {"channel": "virtual"} → requestVirtualPayment
                               merchant (pdk_…)      jsapi / h5 / native / app: routes/cashier.py
GET  /api/v1/orders/{id}       merchant (pdk_…) or user; ``?sync=true`` asks WeChat while PAYING

The client never names an amount: the order's amount is the merchant backend's. The mini
program's ``requestPayment`` success callback is not proof of payment; it only triggers
``?sync=true``, and the server decides from WeChat's answer.

``POST …/pay`` reads its body by caller, so each kind of caller can have its own shape: a
user's is :class:`UserPayRequest`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from paydesk.api.deps import OrderId, ServicesDep
from paydesk.api.deps_user import ClientIp, UserOrMerchant
from paydesk.api.errors import error_responses, validated_body
from paydesk.api.routes.cashier import MerchantPayRequest, merchant_pay, read_merchant_pay
from paydesk.cache import SessionRecord
from paydesk.db.enums import OrderState, PaymentChannel
from paydesk.db.models import Order
from paydesk.domain.context import Services
from paydesk.domain.orders.service import get_order
from paydesk.domain.orders.views import order_view
from paydesk.domain.payments.prepay import Payer, PaymentStart, start_payment
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.payments.virtual import VirtualStart, start_virtual_payment
from paydesk.domain.users import limits, order_for_user

router = APIRouter(prefix="/api/v1/orders", tags=["pay"])


class UserPayRequest(BaseModel):
    """What the mini program sends to pay an order: the channel, and nothing else."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["miniprogram", "virtual"]

    @model_validator(mode="before")
    @classmethod
    def _no_amount(cls, data: Any) -> Any:
        if isinstance(data, dict) and "amount" in data:
            raise PydanticCustomError(
                "amount_refused",
                "amount is not accepted: the order's amount is set by the merchant backend",
            )
        return data


def read_user_pay(payload: Any) -> UserPayRequest:
    """Validate a user's pay body; errors leave as the API's usual 400 naming the field."""
    return validated_body(UserPayRequest, payload)


async def user_pay(
    services: Services,
    order_id: str,
    user: SessionRecord,
    body: UserPayRequest,
    client_ip: str | None,
) -> dict[str, Any]:
    """Start (or resume) paying ``order_id`` as ``user``: the signed client parameters."""
    await limits.enforce(services, f"pay:{user.user_id}", limits.PAY_PER_USER)
    payer = Payer(appid=user.appid, openid=user.openid, user_id=user.user_id, client_ip=client_ip)
    start: PaymentStart | VirtualStart
    # Both check that the user may see the order (order_for_user's rule) on their own read.
    if body.channel == "virtual":  # wx.requestVirtualPayment: domain/payments/virtual.py
        start = await start_virtual_payment(services, order_id, user)
    else:
        channel = PaymentChannel(body.channel)
        start = await start_payment(services, order_id, channel, payer, user=user)
    return {
        "order_id": start.payment.order_id,
        "payment_id": start.payment.id,
        "channel": str(start.payment.channel),
        "api_version": str(start.payment.api_version),
        "reused": start.reused,
        "params": start.params,
    }


@router.post(
    "/{order_id}/pay",
    responses=error_responses(403, 404, 409, 429, 502),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            UserPayRequest.model_json_schema(),
                            MerchantPayRequest.model_json_schema(),
                        ]
                    }
                }
            },
        }
    },
)
async def pay_order(
    order_id: OrderId,
    payload: Annotated[Any, Body()],
    services: ServicesDep,
    caller: UserOrMerchant,
    client_ip: ClientIp,
) -> dict[str, Any]:
    """The ``wx.requestPayment`` parameters for this order (a still-valid prepay is reused)."""
    if isinstance(caller, SessionRecord):
        return await user_pay(services, order_id, caller, read_user_pay(payload), client_ip)
    return await merchant_pay(services, caller, order_id, read_merchant_pay(payload))


@router.get("/{order_id}", responses=error_responses(404, 429))
async def read_order(
    order_id: OrderId, services: ServicesDep, caller: UserOrMerchant, sync: bool = False
) -> dict[str, Any]:
    """One order, for its merchant or its paying user; ``sync=true`` asks WeChat first."""
    if isinstance(caller, SessionRecord):
        order = await order_for_user(services, order_id, caller)
    else:
        async with services.db() as session:
            order = await get_order(session, order_id, mchid=caller.mchid)
    if not sync:
        return order_view(order)
    order, report = await _sync(services, order)
    return {**order_view(order), "sync": report}


async def _sync(services: Services, order: Order) -> tuple[Order, dict[str, Any]]:
    """Ask WeChat about a PAYING order; any other state is already the server's final word."""
    if OrderState(order.state) != OrderState.PAYING:
        return order, {"ok": True, "queried": False}
    await limits.enforce(services, f"sync:{order.id}", limits.SYNC_PER_ORDER)
    synced = await sync_order(services, order.id, cause="api.sync")
    if synced.error is None:
        return synced.order, {"ok": True, "queried": True}
    error = synced.error
    return synced.order, {
        "ok": False,
        "queried": True,
        "error": {"code": error.code, "message": error.message, "retryable": error.retryable},
    }
