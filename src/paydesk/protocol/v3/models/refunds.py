"""Refund payloads: the create request, the Refund object and the refund notification.

Field lists follow wechatpay-java ``service/refund/model`` (``CreateRequest``, ``AmountReq``,
``Refund``, ``RefundNotification``). The query API says ``status``, the notification
``refund_status`` (PROTOCOL.md §1.8).

>>> RefundRequest(out_trade_no="T000001", out_refund_no="R1",
...     amount=RefundAmountRequest(refund=50, total=100)).to_json()
b'{"out_trade_no":"T000001","out_refund_no":"R1","amount":{"refund":50,"total":100,"currency":"CNY"}}'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from paydesk.protocol.v3.models.base import (
    Fen,
    PositiveFen,
    Quantity,
    RequestModel,
    ResponseModel,
)

__all__ = [
    "FundsFrom",
    "Refund",
    "RefundAmount",
    "RefundAmountRequest",
    "RefundGoodsDetail",
    "RefundNotification",
    "RefundNotificationAmount",
    "RefundRequest",
    "RefundStatus",
]

#: Refund states, the same in the query (``status``) and notification (``refund_status``).
RefundStatus = Literal["SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL"]


class FundsFrom(RequestModel):
    """Which account part of a refund comes from (``amount.from``)."""

    account: Literal["AVAILABLE", "UNAVAILABLE"]
    amount: PositiveFen


class RefundAmountRequest(RequestModel):
    """Refund and original order amounts in fen; the refund may not exceed the total."""

    refund: PositiveFen
    total: PositiveFen
    currency: Literal["CNY"] = "CNY"
    from_: list[FundsFrom] | None = Field(default=None, alias="from")

    @model_validator(mode="after")
    def _not_more_than_paid(self) -> RefundAmountRequest:
        if self.refund > self.total:
            raise ValueError(f"refund {self.refund} exceeds order total {self.total}")
        return self


class RefundGoodsDetail(RequestModel):
    """One refunded goods line."""

    merchant_goods_id: str = Field(min_length=1, max_length=32)
    wechatpay_goods_id: str | None = Field(default=None, max_length=32)
    goods_name: str | None = Field(default=None, max_length=256)
    unit_price: Fen
    refund_amount: Fen
    refund_quantity: Quantity


class RefundRequest(RequestModel):
    """``POST /v3/refund/domestic/refunds``: exactly one of ``transaction_id``/``out_trade_no``."""

    transaction_id: str | None = Field(default=None, min_length=1, max_length=32)
    out_trade_no: str | None = Field(default=None, min_length=1, max_length=32)
    out_refund_no: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=80)
    notify_url: str | None = Field(default=None, max_length=255, pattern=r"^https?://[^?#\s]+$")
    funds_account: Literal["AVAILABLE"] | None = None
    amount: RefundAmountRequest
    goods_detail: list[RefundGoodsDetail] | None = None

    @model_validator(mode="after")
    def _one_order_id(self) -> RefundRequest:
        if (self.transaction_id is None) == (self.out_trade_no is None):
            raise ValueError("give exactly one of transaction_id and out_trade_no")
        return self


class RefundAmount(ResponseModel):
    """Amounts of a Refund object, in fen."""

    total: Fen
    refund: Fen
    payer_total: Fen | None = None
    payer_refund: Fen | None = None
    settlement_refund: Fen | None = None
    settlement_total: Fen | None = None
    discount_refund: Fen | None = None
    currency: str | None = None
    refund_fee: Fen | None = None


class Refund(ResponseModel):
    """A refund as the create and query APIs return it.

    >>> Refund(refund_id="50", out_refund_no="R1", status="PROCESSING",
    ...        amount=RefundAmount(total=100, refund=50)).status
    'PROCESSING'
    """

    refund_id: str
    out_refund_no: str
    transaction_id: str | None = None
    out_trade_no: str | None = None
    channel: str | None = None
    user_received_account: str | None = None
    success_time: str | None = None
    create_time: str | None = None
    status: RefundStatus
    funds_account: str | None = None
    amount: RefundAmount


class RefundNotificationAmount(ResponseModel):
    """Amounts in a refund notification, in fen."""

    total: Fen
    refund: Fen
    payer_total: Fen | None = None
    payer_refund: Fen | None = None


class RefundNotification(ResponseModel):
    """Plaintext of ``REFUND.SUCCESS`` / ``REFUND.ABNORMAL`` / ``REFUND.CLOSED``."""

    mchid: str
    transaction_id: str | None = None
    out_trade_no: str | None = None
    refund_id: str
    out_refund_no: str
    refund_status: RefundStatus
    success_time: str | None = None
    user_received_account: str | None = None
    amount: RefundNotificationAmount
