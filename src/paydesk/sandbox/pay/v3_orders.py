"""Pay v3 orders: prepay on four channels, query two ways, close (PROTOCOL.md §1.7).

POST /v3/pay/transactions/{jsapi,app,h5,native}             → prepay_id | h5_url | code_url
GET  /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid= → Transaction
GET  /v3/pay/transactions/id/{transaction_id}?mchid=         → Transaction (paid orders)
POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close  → 204
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute

from paydesk.protocol.times import parse_rfc3339
from paydesk.protocol.v3.endpoints import CLOSE, PREPAY, QUERY_BY_OUT_TRADE_NO, Channel
from paydesk.protocol.v3.endpoints import QUERY_BY_TRANSACTION_ID as QUERY_BY_ID
from paydesk.protocol.v3.models.payments import PrepayRequest
from paydesk.sandbox.http import public_base
from paydesk.sandbox.pay.model import Order, OrderDraft, TradeType, transaction_json
from paydesk.sandbox.pay.refusals import appid_not_bound, param_error
from paydesk.sandbox.pay.v3_http import V3Call, V3Handler, parse_body, v3_route

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["checkmweb_url", "routes"]

_TRADE_TYPES: dict[Channel, TradeType] = {
    "jsapi": "JSAPI",
    "app": "APP",
    "h5": "MWEB",
    "native": "NATIVE",
}


def checkmweb_url(base: str, order: Order) -> str:
    """The ``h5_url`` / ``mweb_url`` of an H5 order: the sandbox's pay sheet.

    A page may append ``&redirect_url=<urlencoded>``, as with WeChat's own ``checkmweb``.
    """
    query = urlencode({"prepay_id": order.prepay_id, "package": order.h5_package or ""})
    return f"{base}/_sandbox/checkmweb?{query}"


def _draft(call: V3Call, channel: Channel) -> OrderDraft:
    request = parse_body(PrepayRequest, call.body)
    call.check_mchid(request.mchid, "/mchid")
    if not call.world.merchants.bound(request.appid, request.mchid):
        raise appid_not_bound()
    if channel == "jsapi" and request.payer is None:
        raise param_error("/payer/openid", "JSAPI 下单须提供 payer.openid")
    if channel == "h5" and (request.scene_info is None or request.scene_info.h5_info is None):
        raise param_error("/scene_info/h5_info", "H5 下单须提供 scene_info.h5_info")
    expire = parse_rfc3339(request.time_expire) if request.time_expire else None
    fingerprint: dict[str, Any] = json.loads(call.body)
    scene = request.scene_info
    return OrderDraft(
        api="v3",
        mchid=request.mchid,
        appid=request.appid,
        out_trade_no=request.out_trade_no,
        trade_type=_TRADE_TYPES[channel],
        description=request.description,
        total=request.amount.total,
        notify_url=request.notify_url,
        time_expire=expire,
        fingerprint=fingerprint,
        attach=request.attach,
        payer_openid=request.payer.openid if request.payer else None,
        device_id=scene.device_id if scene else None,
    )


def routes(world: PayWorld) -> list[BaseRoute]:
    """The v3 order routes bound to ``world``."""

    def prepay_handler(channel: Channel) -> V3Handler:
        async def prepay(call: V3Call) -> Response:
            order = world.book.place(_draft(call, channel), world.now())
            if channel == "h5":
                return call.ok({"h5_url": checkmweb_url(public_base(call.request), order)})
            if channel == "native":
                return call.ok({"code_url": order.code_url})
            return call.ok({"prepay_id": order.prepay_id})

        return prepay

    async def query_by_out_trade_no(call: V3Call) -> Response:
        call.query_mchid()
        number = call.request.path_params["out_trade_no"]
        return call.ok(transaction_json(world.book.get(call.merchant.mchid, number, world.now())))

    async def query_by_transaction_id(call: V3Call) -> Response:
        call.query_mchid()
        number = call.request.path_params["transaction_id"]
        order = world.book.get_by_transaction(call.merchant.mchid, number, world.now())
        return call.ok(transaction_json(order))

    async def close(call: V3Call) -> Response:
        try:
            data = json.loads(call.body) if call.body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise param_error("/", "请求体不是合法的JSON") from exc
        call.check_mchid(data.get("mchid") if isinstance(data, dict) else None, "/mchid")
        number = call.request.path_params["out_trade_no"]
        world.book.close(world.book.get(call.merchant.mchid, number, world.now()), world.now())
        return call.no_content()

    found: list[BaseRoute] = [
        v3_route(world, endpoint.template, endpoint.method, prepay_handler(channel))
        for channel, endpoint in PREPAY.items()
    ]
    found += [
        v3_route(world, QUERY_BY_OUT_TRADE_NO.template, "GET", query_by_out_trade_no),
        v3_route(world, QUERY_BY_ID.template, "GET", query_by_transaction_id),
        v3_route(world, CLOSE.template, "POST", close),
    ]
    return found
