"""Paying through another mini program (seed 002): pay tickets.

POST /api/v1/orders/{id}/pay-ticket  user of the platform app (pds_…) or merchant (pdk_…)
                                     {"payer_appid"} → {"ticket", "expires_at", "extra_data"}
POST /api/v1/pay-tickets/{ticket}/pay  user of the payer app (pds_…, logged in with its own
                                     appid) → the ``wx.requestPayment`` parameters for that app

The ticket lives five minutes, names the order and the payer app (which must be a mini
program bound to the order's merchant), and is pinned to the first user who pays with it
(:mod:`paydesk.domain.tickets`). The order then records which app took the money
(``payer.appid`` in the order's JSON).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.deps import ServicesDep
from paydesk.api.deps_user import ClientIp, CurrentUser, UserOrMerchant
from paydesk.api.errors import error_responses
from paydesk.cache import SessionRecord
from paydesk.domain.orders.views import iso
from paydesk.domain.tickets import issue_for_merchant, issue_for_user, pay_with_ticket

router = APIRouter(prefix="/api/v1", tags=["pay tickets"])

OrderId = Annotated[str, Path(min_length=1, max_length=64)]
Ticket = Annotated[str, Path(min_length=1, max_length=2048)]


class TicketRequest(BaseModel):
    """Which mini program will pay the order."""

    model_config = ConfigDict(extra="forbid")

    payer_appid: str = Field(pattern=r"^wx[0-9a-zA-Z]{16}$")


@router.post("/orders/{order_id}/pay-ticket", status_code=201, responses=error_responses(404, 409))
async def create_pay_ticket(
    order_id: OrderId, body: TicketRequest, services: ServicesDep, caller: UserOrMerchant
) -> dict[str, Any]:
    """A pay ticket to pass to the payer mini program as ``extraData``."""
    if isinstance(caller, SessionRecord):
        ticket = await issue_for_user(services, order_id, body.payer_appid, caller)
    else:
        ticket = await issue_for_merchant(services, order_id, body.payer_appid, caller.mchid)
    return {
        "object": "pay_ticket",
        "ticket": ticket.ticket,
        "order_id": ticket.order_id,
        "payer_appid": ticket.payer_appid,
        "expires_at": iso(ticket.expires_at),
        "extra_data": ticket.extra_data,
    }


@router.post("/pay-tickets/{ticket}/pay", responses=error_responses(403, 404, 409, 429, 502))
async def pay_ticket(
    ticket: Ticket, services: ServicesDep, user: CurrentUser, client_ip: ClientIp
) -> dict[str, Any]:
    """The ``wx.requestPayment`` parameters for the payer app's user (a still-valid prepay
    is reused)."""
    start = await pay_with_ticket(services, ticket, user, client_ip=client_ip)
    return {
        "order_id": start.payment.order_id,
        "payment_id": start.payment.id,
        "channel": str(start.payment.channel),
        "api_version": str(start.payment.api_version),
        "payer_appid": start.payment.appid,
        "reused": start.reused,
        "params": start.params,
    }
