"""Merchant-backend refund routes (API key, merchant-scoped).

POST /api/v1/orders/{id}/refunds   {"amount", "reason"?, "out_refund_no"?}; Idempotency-Key
GET  /api/v1/refunds/{id}
GET  /api/v1/refunds?order_id=&state=&limit=&starting_after=
POST /api/v1/refunds/{id}/apply-abnormal-refund   {"type", "bank_type"?, "bank_account"?,
                                                 "real_name"?}: an ABNORMAL refund paid out
                                                 another way (domain/refunds/abnormal.py)

A refund request answers 201 with the refund as soon as it exists, whatever WeChat said —
``state`` tells the rest (PENDING: WeChat will be asked again under the same number; CLOSED
with ``last_error``: WeChat refused it). More than is still refundable → 409
``refund_exceeds_paid`` with ``refundable``; an unpaid order → 409 ``order_not_paid``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from paydesk.api.deps import MerchantKey, ServicesDep, SessionDep, idempotent
from paydesk.api.errors import error_responses
from paydesk.db.enums import RefundState
from paydesk.domain.orders.service import MAX_AMOUNT_FEN
from paydesk.domain.refunds import (
    get_refund,
    list_refunds,
    out_refund_no_for_key,
    refund_view,
    request_refund,
)
from paydesk.domain.refunds.abnormal import AbnormalPayout, apply_abnormal_refund
from paydesk.domain.refunds.reserve import MAX_REASON
from paydesk.protocol.v3.models import ABNORMAL_REFUND_BANKS, AbnormalRefundTo
from paydesk.protocol.v3.models.refunds import abnormal_refund_problem

router = APIRouter(prefix="/api/v1", tags=["refunds"])


class CreateRefund(BaseModel):
    """What the merchant backend sends to refund an order. ``amount`` is integer fen."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT_FEN, description="integer fen")
    reason: str | None = Field(default=None, min_length=1, max_length=MAX_REASON)
    out_refund_no: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Za-z_\-|*@]{1,64}$",
        description=(
            "your own refund number for WeChat; if omitted, paydesk makes one (derived from"
            " the Idempotency-Key when one is sent, so a request run again is never a second"
            " refund)"
        ),
    )


class AbnormalRefund(BaseModel):
    """Where an ABNORMAL refund's money goes instead, in WeChat's own terms.

    ``USER_BANK_CARD``: a debit card of the payer (``bank_type``, ``bank_account``: the card
    number, ``real_name``: the name on it), sent to WeChat encrypted and stored nowhere;
    ``MERCHANT_BANK_CARD``: the merchant's own bank account, nothing else to give.
    """

    model_config = ConfigDict(extra="forbid")

    type: AbnormalRefundTo
    bank_type: Literal[ABNORMAL_REFUND_BANKS] | None = None  # type: ignore[valid-type]
    bank_account: str | None = Field(
        default=None, pattern=r"^[0-9]{12,30}$", description="the card number, digits only"
    )
    real_name: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _bank_fields_match_the_type(self) -> AbnormalRefund:
        problem = abnormal_refund_problem(
            self.type, [self.bank_type, self.bank_account, self.real_name]
        )
        if problem is not None:
            raise PydanticCustomError("bank_fields", problem)
        return self


@router.post(
    "/orders/{order_id}/refunds", status_code=201, responses=error_responses(404, 409, 502)
)
async def create_refund(
    order_id: Annotated[str, Path(max_length=64)],
    body: CreateRefund,
    request: Request,
    services: ServicesDep,
    key: MerchantKey,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Refund part or all of a paid order; never more than is still refundable."""

    out_refund_no = body.out_refund_no
    if out_refund_no is None and idempotency_key is not None:
        out_refund_no = out_refund_no_for_key(key.id, idempotency_key)

    async def run() -> tuple[int, dict[str, Any]]:
        refund = await request_refund(
            services,
            order_id,
            amount=body.amount,
            reason=body.reason,
            out_refund_no=out_refund_no,
            mchid=key.mchid,
        )
        return 201, refund_view(refund)

    return await idempotent(request, services, key, idempotency_key, body.model_dump(), run)


@router.post("/refunds/{refund_id}/apply-abnormal-refund", responses=error_responses(404, 409, 502))
async def pay_out_abnormal_refund(
    refund_id: Annotated[str, Path(max_length=64)],
    body: AbnormalRefund,
    services: ServicesDep,
    key: MerchantKey,
) -> dict[str, Any]:
    """Pay an ABNORMAL refund (the payer's card was cancelled or frozen) to another bank card
    of the payer or to the merchant's own account; it then goes PROCESSING → SUCCESS."""
    payout = AbnormalPayout(body.type, body.bank_type, body.bank_account, body.real_name)
    refund = await apply_abnormal_refund(services, refund_id, payout, mchid=key.mchid)
    return refund_view(refund)


@router.get("/refunds/{refund_id}", responses=error_responses(404))
async def read_refund(
    refund_id: Annotated[str, Path(max_length=64)], session: SessionDep, key: MerchantKey
) -> dict[str, Any]:
    """One refund of the caller's merchant."""
    return refund_view(await get_refund(session, refund_id, mchid=key.mchid))


@router.get("/refunds")
async def read_refunds(
    session: SessionDep,
    key: MerchantKey,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
    state: RefundState | None = None,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Newest first, cursor-paginated with ``starting_after`` (the last id you saw)."""
    rows, has_more = await list_refunds(
        session,
        mchid=key.mchid,
        order_id=order_id,
        state=state,
        starting_after=starting_after,
        limit=limit,
    )
    return {
        "object": "list",
        "data": [refund_view(r) for r in rows],
        "has_more": has_more,
        "next_cursor": rows[-1].id if has_more and rows else None,
    }
