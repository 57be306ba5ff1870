"""The daily trade bill (交易账单) as WeChat writes it: CSV, every value prefixed with a backtick.

One row per payment that succeeded on the day (Beijing time) and, in ``ALL`` / ``REFUND``
bills, one per refund that succeeded on the day; then a summary. Amounts are yuan with two
decimals; the fee is 0.6 % of the amount, rounded half up to the fen (refunds give it back).

    >>> bill = trade_bill([], [], mchid="1900000001", day=date(2026, 1, 1), bill_type="ALL")
    >>> bill.splitlines()[-1]
    '`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from paydesk.protocol.times import BEIJING
from paydesk.sandbox.pay.model import Order, RefundRecord, yuan

__all__ = ["BILL_TYPES", "BillType", "fee", "trade_bill"]

BillType = Literal["ALL", "SUCCESS", "REFUND"]
BILL_TYPES: tuple[BillType, ...] = ("ALL", "SUCCESS", "REFUND")
FEE_RATE = "0.60%"

_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def fee(fen: int) -> int:
    """WeChat's 0.6 % fee in fen, rounded half up.

    >>> fee(100), fee(84), fee(83)
    (1, 1, 0)
    """
    return (fen * 6 + 500) // 1000


def _row(values: Iterable[str]) -> str:
    return ",".join("`" + value for value in values)


def _on(moment: datetime | None, day: date) -> bool:
    return moment is not None and moment.astimezone(BEIJING).date() == day


def _clock(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _payment_row(order: Order, when: datetime) -> str:
    draft = order.draft
    return _row(
        [_clock(when), draft.appid, draft.mchid, "0", "", order.transaction_id or "",
         draft.out_trade_no, order.paid_openid or "", draft.trade_type, "SUCCESS", "OTHERS",
         "CNY", yuan(draft.total), "0.00", "0", "0", "0.00", "0.00", "", "", draft.description,
         draft.attach or "", yuan(fee(draft.total)), FEE_RATE, yuan(draft.total), "0.00", ""]
    )  # fmt: skip


def _refund_row(order: Order, refund: RefundRecord, when: datetime) -> str:
    draft = order.draft
    return _row(
        [_clock(when), draft.appid, draft.mchid, "0", "", refund.transaction_id,
         refund.out_trade_no, order.paid_openid or "", draft.trade_type, "REFUND", "OTHERS", "CNY",
         "0.00", "0.00", refund.refund_id, refund.out_refund_no, yuan(refund.refund), "0.00",
         "ORIGINAL", "SUCCESS", draft.description, draft.attach or "", yuan(-fee(refund.refund)),
         FEE_RATE, "0.00", yuan(refund.refund), ""]
    )  # fmt: skip


def trade_bill(
    orders: Iterable[Order],
    refunds: Iterable[RefundRecord],
    *,
    mchid: str,
    day: date,
    bill_type: BillType,
) -> str:
    """The CSV text of one merchant's bill for ``day``."""
    lines = [_HEADER]
    paid = {o.draft.out_trade_no: o for o in orders if o.draft.mchid == mchid and o.paid}
    payments = [o for o in paid.values() if _on(o.success_time, day)]
    settled = [
        (paid[r.out_trade_no], r)
        for r in refunds
        if r.mchid == mchid and r.out_trade_no in paid and _on(r.success_time, day)
    ]
    if bill_type == "REFUND":
        payments = []
    if bill_type == "SUCCESS":
        settled = []
    lines += [_payment_row(o, o.success_time) for o in payments if o.success_time]
    lines += [_refund_row(o, r, r.success_time) for o, r in settled if r.success_time]
    paid_total = sum(o.draft.total for o in payments)
    refund_total = sum(r.refund for _, r in settled)
    fees = sum(fee(o.draft.total) for o in payments) - sum(fee(r.refund) for _, r in settled)
    totals = (paid_total, refund_total, 0, fees, paid_total, refund_total)
    lines += [_SUMMARY, _row([str(len(payments) + len(settled)), *(yuan(v) for v in totals)])]
    return "\r\n".join(lines) + "\r\n"
