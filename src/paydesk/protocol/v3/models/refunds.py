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
    "ABNORMAL_REFUND_BANKS",
    "AbnormalRefundRequest",
    "AbnormalRefundTo",
    "FundsFrom",
    "Refund",
    "RefundAmount",
    "RefundAmountRequest",
    "RefundGoodsDetail",
    "RefundNotification",
    "RefundNotificationAmount",
    "RefundRequest",
    "RefundStatus",
    "abnormal_refund_problem",
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


#: Where an ABNORMAL refund's money goes instead: a bank card of the payer, or the merchant's
#: own bank account (the merchant then pays the payer back some other way).
AbnormalRefundTo = Literal["USER_BANK_CARD", "MERCHANT_BANK_CARD"]

#: The banks ``bank_type`` may name (debit cards only), from WeChat's "发起异常退款" document.
ABNORMAL_REFUND_BANKS = (
    "CMB_DEBIT",
    "COMM_DEBIT",
    "ABC_DEBIT",
    "CCB_DEBIT",
    "ICBC_DEBIT",
    "BOC_DEBIT",
    "PAB_DEBIT",
    "SPDB_DEBIT",
    "CITIC_DEBIT",
    "CEB_DEBIT",
    "CMBC_DEBIT",
    "CIB_DEBIT",
    "GDB_DEBIT",
    "PSBC_DEBIT",
    "NBCB_DEBIT",
)


class AbnormalRefundRequest(RequestModel):
    """``POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund``: settle a refund
    whose status is ABNORMAL (the payer's card was cancelled or frozen) by paying it to a bank
    card of the payer (``USER_BANK_CARD``: ``bank_type``, and ``bank_account`` and
    ``real_name`` as RSA-OAEP ciphertext under WeChat's platform key named in
    ``Wechatpay-Serial``) or to the merchant's own bank account (``MERCHANT_BANK_CARD``: no
    bank fields). Doc: https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html.
    Answer: the Refund object, now PROCESSING.

    >>> AbnormalRefundRequest(out_refund_no="R1", type="MERCHANT_BANK_CARD").to_json()
    b'{"out_refund_no":"R1","type":"MERCHANT_BANK_CARD"}'
    >>> try:
    ...     AbnormalRefundRequest(out_refund_no="R1", type="USER_BANK_CARD")
    ... except ValueError as error:
    ...     print(error.errors()[0]["msg"])
    Value error, USER_BANK_CARD needs bank_type, bank_account and real_name
    """

    out_refund_no: str = Field(min_length=1, max_length=64)
    type: AbnormalRefundTo
    bank_type: Literal[ABNORMAL_REFUND_BANKS] | None = None  # type: ignore[valid-type]
    bank_account: str | None = Field(default=None, min_length=1, max_length=1024)
    real_name: str | None = Field(default=None, min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _bank_fields_match_the_type(self) -> AbnormalRefundRequest:
        problem = abnormal_refund_problem(
            self.type, [self.bank_type, self.bank_account, self.real_name]
        )
        if problem is not None:
            raise ValueError(problem)
        return self


def abnormal_refund_problem(to: AbnormalRefundTo, bank_fields: list[str | None]) -> str | None:
    """What is wrong with ``bank_fields`` (bank_type, bank_account, real_name) for ``to``.

    >>> abnormal_refund_problem("MERCHANT_BANK_CARD", ["ICBC_DEBIT", None, None])
    'MERCHANT_BANK_CARD takes no bank_type, bank_account or real_name'
    >>> abnormal_refund_problem("USER_BANK_CARD", ["ICBC_DEBIT", "…", "…"]) is None
    True
    """
    if to == "USER_BANK_CARD" and None in bank_fields:
        return "USER_BANK_CARD needs bank_type, bank_account and real_name"
    if to == "MERCHANT_BANK_CARD" and any(value is not None for value in bank_fields):
        return "MERCHANT_BANK_CARD takes no bank_type, bank_account or real_name"
    return None


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
