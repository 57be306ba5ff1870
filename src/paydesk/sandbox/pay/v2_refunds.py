"""Pay v2 refunds (PROTOCOL.md §2.2): apply and query.

    POST /secapi/pay/refund  → refund_id (the refund settles on virtual time, then notifies)
    POST /pay/refundquery    → the order's refunds as ``*_$n`` fields

WeChat requires the merchant's TLS client certificate on ``/secapi/``; the sandbox speaks
plain HTTP and does not ask for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import BaseRoute

from paydesk.protocol.times import BEIJING
from paydesk.sandbox.pay.model import Order, RefundRecord, received_account
from paydesk.sandbox.pay.refusals import Refusal, refund_not_exist, refund_order_not_exist
from paydesk.sandbox.pay.v2_http import V2Call, fingerprint, need, need_fen, v2_route

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["V2_REFUND_STATUS", "routes"]

#: v3 refund status → v2 ``refund_status_$n``.
V2_REFUND_STATUS = {
    "PROCESSING": "PROCESSING",
    "SUCCESS": "SUCCESS",
    "CLOSED": "REFUNDCLOSE",
    "ABNORMAL": "CHANGE",
}


def _refund_fields(refunds: list[RefundRecord]) -> dict[str, str | int]:
    fields: dict[str, str | int] = {"refund_count": len(refunds)}
    for n, refund in enumerate(refunds):
        fields |= {
            f"out_refund_no_{n}": refund.out_refund_no,
            f"refund_id_{n}": refund.refund_id,
            f"refund_channel_{n}": "ORIGINAL" if refund.redirect is None else "OTHER_BANKCARD",
            f"refund_fee_{n}": refund.refund,
            f"settlement_refund_fee_{n}": refund.refund,
            f"refund_status_{n}": V2_REFUND_STATUS[refund.status],
            f"refund_account_{n}": "REFUND_SOURCE_RECHARGE_FUNDS",
            f"refund_recv_accout_{n}": received_account(refund),
        }
        if refund.success_time is not None:
            when = refund.success_time.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
            fields[f"refund_success_time_{n}"] = when
    return fields


def routes(world: PayWorld) -> list[BaseRoute]:
    """The v2 refund routes bound to ``world``."""

    def find_order(call: V2Call) -> Order:
        mchid, now, fields = call.merchant.mchid, world.now(), call.fields
        if not fields.get("transaction_id"):
            need(fields, "out_trade_no")
        try:
            if fields.get("transaction_id"):
                return world.book.get_by_transaction(mchid, fields["transaction_id"], now)
            return world.book.get(mchid, fields["out_trade_no"], now)
        except Refusal as exc:
            raise refund_order_not_exist() from exc

    async def refund(call: V2Call) -> Response:
        fields = call.fields
        out_refund_no = need(fields, "out_refund_no")
        total, amount = need_fen(fields, "total_fee"), need_fen(fields, "refund_fee")
        order = find_order(call)
        record, _ = world.book.create_refund(
            api="v2",
            order=order,
            out_refund_no=out_refund_no,
            refund=amount,
            total=total,
            fingerprint=fingerprint(fields),
            now=world.now(),
            settle_after=world.refund_delay_seconds,
            notify_url=fields.get("notify_url") or None,
            reason=fields.get("refund_desc") or None,
        )
        return call.answer(
            {
                "transaction_id": record.transaction_id,
                "out_trade_no": record.out_trade_no,
                "out_refund_no": record.out_refund_no,
                "refund_id": record.refund_id,
                "refund_channel": "ORIGINAL",
                "refund_fee": record.refund,
                "settlement_refund_fee": record.refund,
                "total_fee": record.total,
                "settlement_total_fee": record.total,
                "fee_type": "CNY",
                "cash_fee": record.total,
                "cash_refund_fee": record.refund,
            }
        )

    async def refundquery(call: V2Call) -> Response:
        world.settle_due_refunds()
        fields, mchid = call.fields, call.merchant.mchid
        if fields.get("out_refund_no"):
            found = world.book.refund(mchid, fields["out_refund_no"])
            refunds = [found] if found is not None else []
        elif fields.get("refund_id"):
            refunds = [r for r in world.book.refunds() if r.refund_id == fields["refund_id"]]
            refunds = [r for r in refunds if r.mchid == mchid]
        elif fields.get("transaction_id") or fields.get("out_trade_no"):
            try:
                refunds = world.book.refunds_of(find_order(call))
            except Refusal as exc:
                raise refund_not_exist() from exc
        else:
            raise Refusal(
                "PARAM_ERROR",
                "out_refund_no、refund_id、transaction_id、out_trade_no至少填一个",
                v2_code="LACK_PARAMS",
            )
        if not refunds:
            raise refund_not_exist()
        order = world.book.get(mchid, refunds[0].out_trade_no, world.now())
        return call.answer(
            {
                "transaction_id": order.transaction_id or "",
                "out_trade_no": order.draft.out_trade_no,
                "total_fee": order.draft.total,
                "cash_fee": order.draft.total,
                **_refund_fields(refunds),
            }
        )

    return [
        v2_route(world, "/secapi/pay/refund", refund),
        v2_route(world, "/pay/refundquery", refundquery),
    ]
