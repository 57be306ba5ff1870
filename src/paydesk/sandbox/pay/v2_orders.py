"""Pay v2 orders (PROTOCOL.md §2.2): unified order, order query, close.

    POST /pay/unifiedorder   → prepay_id (+ code_url for NATIVE, mweb_url for MWEB)
    POST /pay/orderquery     → trade_state and, once paid, the payment
    POST /pay/closeorder     → closed (ORDERPAID when paid, ORDERCLOSED when closed already)

The 5-minute wait WeChat imposes before an order may be closed is not emulated.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import BaseRoute

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.times import parse_v2_time, to_v2_time
from paydesk.protocol.v2.sign import check_sign_type
from paydesk.sandbox.http import public_base
from paydesk.sandbox.pay.model import Order, OrderDraft, TradeType, transaction_json
from paydesk.sandbox.pay.refusals import Refusal, param_error
from paydesk.sandbox.pay.v2_http import V2Call, fingerprint, need, need_fen, v2_route
from paydesk.sandbox.pay.v3_orders import checkmweb_url

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["routes"]

_TRADE_TYPES: dict[str, TradeType] = {t: t for t in ("JSAPI", "NATIVE", "APP", "MWEB")}
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{1,32}")
_NOTIFY_URL = re.compile(r"https?://[^?#\s]{1,247}")


def _draft(call: V2Call) -> OrderDraft:
    fields = call.fields
    trade_type = _TRADE_TYPES.get(need(fields, "trade_type"))
    if trade_type is None:
        raise param_error("trade_type", "trade_type 须为 JSAPI、NATIVE、APP 或 MWEB")
    out_trade_no = need(fields, "out_trade_no")
    if not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise param_error("out_trade_no", "out_trade_no 须为32位以内的字母、数字、_-|*")
    if not _NOTIFY_URL.fullmatch(need(fields, "notify_url")):
        raise param_error("notify_url", "notify_url 须为不带参数的 http(s) 地址")
    need(fields, "spbill_create_ip")
    if fields.get("fee_type", "CNY") != "CNY":
        raise param_error("fee_type", "fee_type 只支持 CNY")
    if trade_type == "JSAPI":
        need(fields, "openid")
    if trade_type == "NATIVE":
        need(fields, "product_id")
    try:
        expire = parse_v2_time(fields["time_expire"]) if fields.get("time_expire") else None
    except MalformedInput as exc:
        raise param_error("time_expire", "time_expire 须为 yyyyMMddHHmmss") from exc
    return OrderDraft(
        api="v2",
        mchid=call.merchant.mchid,
        appid=need(fields, "appid"),
        out_trade_no=out_trade_no,
        trade_type=trade_type,
        description=need(fields, "body"),
        total=need_fen(fields, "total_fee"),
        notify_url=fields["notify_url"],
        time_expire=expire,
        fingerprint=fingerprint(fields),
        attach=fields.get("attach") or None,
        payer_openid=fields.get("openid") or None,
        device_id=fields.get("device_info") or None,
        sign_type=check_sign_type(fields.get("sign_type") or "MD5"),
    )


def _order_fields(order: Order) -> dict[str, str | int]:
    view = transaction_json(order)
    draft = order.draft
    fields: dict[str, str | int] = {
        "out_trade_no": draft.out_trade_no,
        "trade_state": order.state,
        "trade_state_desc": view["trade_state_desc"],
        "total_fee": draft.total,
        "fee_type": "CNY",
    }
    if draft.attach is not None:
        fields["attach"] = draft.attach
    if order.paid and order.success_time is not None:
        fields |= {
            "openid": order.paid_openid or "",
            "is_subscribe": "N",
            "trade_type": draft.trade_type,
            "bank_type": "OTHERS",
            "cash_fee": draft.total,
            "cash_fee_type": "CNY",
            "transaction_id": order.transaction_id or "",
            "time_end": to_v2_time(order.success_time),
        }
    return fields


def routes(world: PayWorld) -> list[BaseRoute]:
    """The v2 order routes bound to ``world``."""

    async def unifiedorder(call: V2Call) -> Response:
        order = world.book.place(_draft(call), world.now())
        result: dict[str, str | int] = {
            "trade_type": order.draft.trade_type,
            "prepay_id": order.prepay_id,
        }
        if order.code_url is not None:
            result["code_url"] = order.code_url
        if order.draft.trade_type == "MWEB":
            result["mweb_url"] = checkmweb_url(public_base(call.request), order)
        return call.answer(result)

    def find(call: V2Call) -> Order:
        mchid, now = call.merchant.mchid, world.now()
        if call.fields.get("transaction_id"):
            return world.book.get_by_transaction(mchid, call.fields["transaction_id"], now)
        if call.fields.get("out_trade_no"):
            return world.book.get(mchid, call.fields["out_trade_no"], now)
        raise Refusal(
            "PARAM_ERROR", "transaction_id、out_trade_no至少填一个", v2_code="LACK_PARAMS"
        )

    async def orderquery(call: V2Call) -> Response:
        return call.answer(_order_fields(find(call)))

    async def closeorder(call: V2Call) -> Response:
        order = world.book.get(call.merchant.mchid, need(call.fields, "out_trade_no"), world.now())
        if order.state == "CLOSED":
            raise Refusal("ORDER_CLOSED", "订单已关闭，无需继续关闭", v2_code="ORDERCLOSED")
        world.book.close(order, world.now())
        return call.answer({"result_msg": "OK"})

    return [
        v2_route(world, "/pay/unifiedorder", unifiedorder),
        v2_route(world, "/pay/orderquery", orderquery),
        v2_route(world, "/pay/closeorder", closeorder),
    ]
