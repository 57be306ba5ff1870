"""WeChat's answers about a trade — v3 or v2, notification or query — as one TradeReport."""

from __future__ import annotations

from datetime import datetime

from paydesk.domain.payments.settle import TradeReport
from paydesk.protocol import errors, times
from paydesk.protocol.v2.models import OrderQueryResponse
from paydesk.protocol.v2.notify import V2PaymentResult
from paydesk.protocol.v3.models import Transaction


def from_v3(transaction: Transaction) -> TradeReport:
    """A v3 ``Transaction`` (query answer or ``TRANSACTION.SUCCESS`` plaintext)."""
    amount = transaction.amount
    success_time = None
    if transaction.success_time:
        try:
            success_time = times.parse_rfc3339(transaction.success_time)
        except errors.MalformedInput:
            success_time = None  # a bad timestamp must not hide a payment; settle uses "now"
    return TradeReport(
        mchid=transaction.mchid,
        appid=transaction.appid,
        out_trade_no=transaction.out_trade_no,
        trade_state=transaction.trade_state,
        transaction_id=transaction.transaction_id,
        total=amount.total if amount else None,
        payer_total=amount.payer_total if amount else None,
        openid=transaction.payer.openid if transaction.payer else None,
        success_time=success_time,
    )


def _v2_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return times.parse_v2_time(value)
    except errors.MalformedInput:
        return None


def from_v2_notification(result: V2PaymentResult) -> TradeReport:
    """A verified v2 payment notification."""
    return TradeReport(
        mchid=result.mch_id,
        appid=result.appid,
        out_trade_no=result.out_trade_no,
        trade_state="SUCCESS" if result.ok else "PAYERROR",
        transaction_id=result.transaction_id,
        total=result.total_fee,
        payer_total=result.cash_fee if result.cash_fee is not None else result.total_fee,
        openid=result.openid,
        success_time=_v2_time(result.time_end),
    )


def from_v2_query(reply: OrderQueryResponse, *, mchid: str, appid: str) -> TradeReport:
    """A v2 ``orderquery`` answer (already verified by the client)."""
    return TradeReport(
        mchid=reply.raw.get("mch_id") or mchid,
        appid=reply.raw.get("appid") or appid,
        out_trade_no=reply.out_trade_no or "",
        trade_state=reply.trade_state or "NOTPAY",
        transaction_id=reply.transaction_id,
        total=reply.total_fee,
        payer_total=reply.cash_fee if reply.cash_fee is not None else reply.total_fee,
        openid=reply.openid,
        success_time=_v2_time(reply.time_end),
    )
