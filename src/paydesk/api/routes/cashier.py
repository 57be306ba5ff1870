"""The cashier: a link per order for the merchant, the shopper's pages, and merchant-driven pay.

Merchant backend (API key)::

    POST /api/v1/orders/{id}/cashier   → {"url": "{public_url}/pay/{token}", "expires_at"}

    merchant_pay(...)                  the API-key branch of POST /api/v1/orders/{id}/pay
                                       {"channel": "jsapi"|"h5"|"native"|"app", "openid"?,
                                        "appid"?, "client_ip"?, "redirect_url"?}

The shopper's browser (the link is the only credential; see ``paydesk.web``)::

    GET /pay/{token}           the road by User-Agent: JSAPI (OAuth first), H5 or Native QR
    GET /pay/{token}/oauth     WeChat's OAuth redirect back (state bound to the browser)
    GET /pay/{token}/result    what the server knows, after asking WeChat
    GET /pay/{token}/status    the same as JSON (polling fallback)
    GET /pay/{token}/events    the same as Server-Sent Events, until final
    GET /pay/static/{name}     the stylesheet and the script
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from paydesk.api.deps import MerchantKey, OrderId, ServicesDep
from paydesk.api.errors import error_responses, validated_body
from paydesk.db.enums import PaymentChannel
from paydesk.db.models import ApiKey
from paydesk.domain.cashier.links import issue_link
from paydesk.domain.cashier.payers import payer_app
from paydesk.domain.context import Services
from paydesk.domain.errors import InvalidInput, NotFound
from paydesk.domain.orders.service import get_order
from paydesk.domain.orders.views import iso
from paydesk.domain.payments.prepay import Payer, start_payment
from paydesk.web import outcome, roads
from paydesk.web.pages import ASSET_TYPES, asset

router = APIRouter(tags=["cashier"])

Token = Annotated[str, Path(min_length=1, max_length=2048)]
_YEAR = 365 * 24 * 3600
_SSE = {"text/event-stream": {"schema": {"type": "string"}}}


# --- merchant backend --------------------------------------------------------------------------


@router.post("/api/v1/orders/{order_id}/cashier", responses=error_responses(404, 409))
async def create_cashier_link(
    order_id: OrderId, services: ServicesDep, key: MerchantKey
) -> dict[str, Any]:
    """A cashier link for an unpaid order; it stops taking payments when the order expires."""
    link = await issue_link(services, order_id, mchid=key.mchid)
    return {
        "object": "cashier_link",
        "order_id": link.order_id,
        "url": link.url,
        "expires_at": iso(link.expires_at),
    }


class MerchantPayRequest(BaseModel):
    """How a merchant's own page or app pays an order through paydesk (never an amount)."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["jsapi", "h5", "native", "app"]
    openid: str | None = Field(default=None, min_length=1, max_length=128)
    appid: str | None = Field(default=None, pattern=r"^wx[0-9a-zA-Z]{16}$")
    client_ip: str | None = Field(default=None, max_length=45)
    redirect_url: str | None = Field(default=None, max_length=1024)

    @field_validator("client_ip")
    @classmethod
    def _an_ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)  # ValueError → a 400 naming the field
        return value

    @field_validator("redirect_url")
    @classmethod
    def _an_http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("redirect_url must be an absolute http(s) URL")
        return value


def read_merchant_pay(payload: Any) -> MerchantPayRequest:
    """Validate a merchant's pay body; errors leave as the API's usual 400."""
    return validated_body(MerchantPayRequest, payload)


def _merchant_payer(
    services: Services, mchid: str, order_appid: str, body: MerchantPayRequest
) -> Payer:
    if body.channel == "h5" and not body.client_ip:
        raise InvalidInput("client_ip_required", "h5 pay needs the shopper's client_ip")
    if body.channel != "h5" and body.redirect_url:
        raise InvalidInput("redirect_url_not_allowed", "redirect_url is for h5 pay only")
    if body.appid:
        appid = body.appid
    elif body.channel == "app":
        raise InvalidInput("appid_required", "app pay needs the appid of your mobile app")
    else:
        appid = payer_app(services.registry, mchid, order_appid, body.channel).appid
    return Payer(appid=appid, openid=body.openid, client_ip=body.client_ip)


async def merchant_pay(
    services: Services, key: ApiKey, order_id: str, body: MerchantPayRequest
) -> dict[str, Any]:
    """Pay an order of the key's merchant on ``body.channel``; the client params come back."""
    async with services.db() as session:
        order = await get_order(session, order_id, mchid=key.mchid)
    payer = _merchant_payer(services, order.mchid, order.appid, body)
    start = await start_payment(
        services,
        order_id,
        PaymentChannel(body.channel),
        payer,
        mchid=key.mchid,
        redirect_url=body.redirect_url,
    )
    return {
        "order_id": start.payment.order_id,
        "payment_id": start.payment.id,
        "channel": str(start.payment.channel),
        "api_version": str(start.payment.api_version),
        "reused": start.reused,
        "params": start.params,
    }


# --- the shopper's pages ----------------------------------------------------------------------


@router.get("/pay/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    """The cashier's stylesheet and script (content-hashed URLs: cached for a year)."""
    if name not in ASSET_TYPES:
        raise NotFound("asset_not_found", "no such cashier asset")
    found = asset(name)
    headers = {"Cache-Control": f"public, max-age={_YEAR}, immutable"}
    return Response(found.body, media_type=found.media_type, headers=headers)


@router.get("/pay/{token}", include_in_schema=False)
async def pay_page(token: Token, request: Request, services: ServicesDep) -> Response:
    """The cashier page: the road by User-Agent."""
    return await roads.pay_page(services, request, token)


@router.get("/pay/{token}/oauth", include_in_schema=False)
async def oauth_return(token: Token, request: Request, services: ServicesDep) -> Response:
    """Where WeChat's OAuth sends the browser back."""
    return await roads.oauth_return(services, request, token)


@router.get("/pay/{token}/result", include_in_schema=False)
async def result_page(token: Token, request: Request, services: ServicesDep) -> Response:
    """The result page: the server's word on the order."""
    return await outcome.result_page(services, request, token)


@router.get("/pay/{token}/status", responses=error_responses(404))
async def status(token: Token, services: ServicesDep) -> dict[str, Any]:
    """The order's phase for the cashier pages (polling fallback of ``/events``)."""
    return await outcome.status_of(services, token)


@router.get(
    "/pay/{token}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the order's phase, one event per change", "content": _SSE},
        **error_responses(404),
    },
)
async def events(token: Token, services: ServicesDep) -> Response:
    """The order's phase as Server-Sent Events, until it is final."""
    return await outcome.status_events(services, token)
