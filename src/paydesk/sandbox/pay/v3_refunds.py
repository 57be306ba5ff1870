"""Pay v3 refunds (PROTOCOL.md §1.7): create and query.

    POST /v3/refund/domestic/refunds                  → Refund (status PROCESSING)
    GET  /v3/refund/domestic/refunds/{out_refund_no}  → Refund

A refund settles ``refund_delay_seconds`` of virtual time after it was accepted (SUCCESS unless
an outcome was forced with ``POST /_sandbox/refund-outcome``), then its notification is sent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import BaseRoute

from paydesk.protocol.v3.endpoints import REFUND_CREATE, REFUND_QUERY
from paydesk.protocol.v3.models.refunds import RefundRequest
from paydesk.sandbox.pay.model import Order, refund_json
from paydesk.sandbox.pay.refusals import Refusal, refund_not_exist, refund_order_not_exist
from paydesk.sandbox.pay.v3_http import V3Call, parse_body, v3_route

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["routes"]


def routes(world: PayWorld) -> list[BaseRoute]:
    """The v3 refund routes bound to ``world``."""

    def find_order(call: V3Call, request: RefundRequest) -> Order:
        mchid, now = call.merchant.mchid, world.now()
        try:
            if request.transaction_id is not None:
                return world.book.get_by_transaction(mchid, request.transaction_id, now)
            return world.book.get(mchid, request.out_trade_no or "", now)
        except Refusal as exc:
            raise refund_order_not_exist() from exc

    async def create(call: V3Call) -> Response:
        request = parse_body(RefundRequest, call.body)
        order = find_order(call, request)
        refund, _ = world.book.create_refund(
            api="v3",
            order=order,
            out_refund_no=request.out_refund_no,
            refund=request.amount.refund,
            total=request.amount.total,
            fingerprint=json.loads(call.body),
            now=world.now(),
            settle_after=world.refund_delay_seconds,
            notify_url=request.notify_url,
            reason=request.reason,
        )
        return call.ok(refund_json(refund))

    async def query(call: V3Call) -> Response:
        world.settle_due_refunds()
        refund = world.book.refund(call.merchant.mchid, call.request.path_params["out_refund_no"])
        if refund is None:
            raise refund_not_exist()
        return call.ok(refund_json(refund))

    return [
        v3_route(world, REFUND_CREATE.template, "POST", create, strict_headers=True),
        v3_route(world, REFUND_QUERY.template, "GET", query, strict_headers=True),
    ]
