"""Orders and refunds as the sandbox keeps them, and their views in WeChat's JSON shapes.

One order book holds v2 and v3 orders alike, keyed by ``(mchid, out_trade_no)``. Times are
virtual (``sandbox.clock.now()``); amounts are integer fen. :func:`transaction_json` and
:func:`refund_json` are what the v3 query APIs answer and what notifications encrypt::

    >>> yuan(1), yuan(12345)
    ('0.01', '123.45')
    >>> AbnormalRedirect("USER_BANK_CARD", "CMB_DEBIT", "1234").received_account
    '招商银行借记卡1234'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from paydesk.protocol.times import to_rfc3339_beijing
from paydesk.protocol.v3.models.refunds import AbnormalRefundTo

__all__ = [
    "AbnormalRedirect",
    "ApiVersion",
    "Order",
    "OrderDraft",
    "OrderState",
    "RefundRecord",
    "RefundState",
    "TradeType",
    "order_summary",
    "received_account",
    "refund_json",
    "refund_notice_json",
    "transaction_json",
    "yuan",
]

ApiVersion = Literal["v2", "v3"]
TradeType = Literal["JSAPI", "NATIVE", "APP", "MWEB"]
OrderState = Literal["NOTPAY", "SUCCESS", "REFUND", "CLOSED"]
RefundState = Literal["PROCESSING", "SUCCESS", "ABNORMAL", "CLOSED"]
SignType = Literal["MD5", "HMAC-SHA256"]

_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "订单发生过退款",
    "CLOSED": "订单已关闭",
}
#: Where a refund lands, as WeChat names the payer's change wallet.
RECEIVED_ACCOUNT = "支付用户零钱"
#: Where an abnormal refund sent to the merchant's own bank account lands.
MERCHANT_ACCOUNT = "商户银行账户"
#: ``bank_type`` of an abnormal refund → the bank, for ``user_received_account``.
_BANK_NAMES = {
    "CMB_DEBIT": "招商银行",
    "COMM_DEBIT": "交通银行",
    "ABC_DEBIT": "农业银行",
    "CCB_DEBIT": "建设银行",
    "ICBC_DEBIT": "工商银行",
    "BOC_DEBIT": "中国银行",
    "PAB_DEBIT": "平安银行",
    "SPDB_DEBIT": "浦发银行",
    "CITIC_DEBIT": "中信银行",
    "CEB_DEBIT": "光大银行",
    "CMBC_DEBIT": "民生银行",
    "CIB_DEBIT": "兴业银行",
    "GDB_DEBIT": "广发银行",
    "PSBC_DEBIT": "邮储银行",
    "NBCB_DEBIT": "宁波银行",
}


def yuan(fen: int) -> str:
    """Fen as a yuan string with two decimals, without floats."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass(frozen=True)
class OrderDraft:
    """A validated prepay request, v2 or v3: what the order book needs to place an order."""

    api: ApiVersion
    mchid: str
    appid: str
    out_trade_no: str
    trade_type: TradeType
    description: str
    total: int
    notify_url: str
    time_expire: datetime | None
    #: the request's parameters, compared on re-entry (nonce and signature left out)
    fingerprint: dict[str, Any]
    attach: str | None = None
    payer_openid: str | None = None
    device_id: str | None = None
    sign_type: SignType | None = None


@dataclass
class Order:
    """One order and everything that happened to it."""

    draft: OrderDraft
    created_at: datetime
    time_expire: datetime
    prepay_id: str
    prepay_expires_at: datetime
    code: str | None = None
    h5_package: str | None = None
    h5_expires_at: datetime | None = None
    state: OrderState = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None
    paid_openid: str | None = None
    closed_at: datetime | None = None
    refund_keys: list[str] = field(default_factory=list)
    history: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        """``(mchid, out_trade_no)``."""
        return self.draft.mchid, self.draft.out_trade_no

    @property
    def paid(self) -> bool:
        """True once the payer paid (``SUCCESS`` or ``REFUND``)."""
        return self.state in ("SUCCESS", "REFUND")

    @property
    def code_url(self) -> str | None:
        """The Native ``code_url`` (``weixin://wxpay/bizpayurl?pr=…``)."""
        return f"weixin://wxpay/bizpayurl?pr={self.code}" if self.code else None


@dataclass(frozen=True)
class AbnormalRedirect:
    """Where an ABNORMAL refund was sent instead (``apply-abnormal-refund``).

    Only the card's last four digits are kept: the full number and the holder's name are
    never stored, as a merchant must not store them either.
    """

    type: AbnormalRefundTo
    bank_type: str | None = None
    card_tail: str | None = None

    @property
    def received_account(self) -> str:
        """``user_received_account`` as WeChat words a card (招商银行信用卡0403) or the merchant."""
        if self.type == "MERCHANT_BANK_CARD":
            return MERCHANT_ACCOUNT
        bank = _BANK_NAMES.get(self.bank_type or "", self.bank_type or "")
        return f"{bank}借记卡{self.card_tail or ''}"


@dataclass
class RefundRecord:
    """One refund of one order."""

    api: ApiVersion
    mchid: str
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    refund_id: str
    refund: int
    total: int
    created_at: datetime
    settle_at: datetime
    fingerprint: dict[str, Any]
    notify_url: str | None = None
    reason: str | None = None
    status: RefundState = "PROCESSING"
    success_time: datetime | None = None
    forced: RefundState | None = None
    #: set once an ABNORMAL refund was sent elsewhere with ``apply-abnormal-refund``
    redirect: AbnormalRedirect | None = None


def received_account(refund: RefundRecord) -> str:
    """Where the money goes: the payer's change wallet, or where an abnormal refund sent it."""
    return RECEIVED_ACCOUNT if refund.redirect is None else refund.redirect.received_account


def transaction_json(order: Order) -> dict[str, Any]:
    """The v3 Transaction of ``order`` (query answer, ``TRANSACTION.SUCCESS`` plaintext)."""
    draft = order.draft
    body: dict[str, Any] = {"appid": draft.appid, "mchid": draft.mchid}
    body["out_trade_no"] = draft.out_trade_no
    amount: dict[str, Any] = {"total": draft.total, "currency": "CNY", "payer_currency": "CNY"}
    if order.paid and order.success_time is not None:
        body["transaction_id"] = order.transaction_id
        body["trade_type"] = draft.trade_type
        body["bank_type"] = "OTHERS"
        body["success_time"] = to_rfc3339_beijing(order.success_time)
        body["payer"] = {"openid": order.paid_openid}
        amount["payer_total"] = draft.total
    body["trade_state"] = order.state
    body["trade_state_desc"] = _STATE_DESC[order.state]
    if draft.attach is not None:
        body["attach"] = draft.attach
    body["amount"] = amount
    if draft.device_id is not None:
        body["scene_info"] = {"device_id": draft.device_id}
    return body


def refund_json(refund: RefundRecord) -> dict[str, Any]:
    """The v3 Refund object (create and query answers)."""
    body: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        # The merchant's account gets OTHER_BANKCARD too: WeChat has no channel closer to it.
        "channel": "ORIGINAL" if refund.redirect is None else "OTHER_BANKCARD",
        "user_received_account": received_account(refund),
        "create_time": to_rfc3339_beijing(refund.created_at),
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "from": [],
            "payer_total": refund.total,
            "payer_refund": refund.refund,
            "settlement_refund": refund.refund,
            "settlement_total": refund.total,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
    }
    if refund.success_time is not None:
        body["success_time"] = to_rfc3339_beijing(refund.success_time)
    return body


def refund_notice_json(refund: RefundRecord) -> dict[str, Any]:
    """The plaintext of ``REFUND.*`` notifications (``refund_status``, not ``status``)."""
    body: dict[str, Any] = {
        "mchid": refund.mchid,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "refund_status": refund.status,
        "user_received_account": received_account(refund),
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "payer_total": refund.total,
            "payer_refund": refund.refund,
        },
    }
    if refund.success_time is not None:
        body["success_time"] = to_rfc3339_beijing(refund.success_time)
    return body


def order_summary(order: Order, refunds: list[RefundRecord]) -> dict[str, Any]:
    """An order for tools and the log page (``GET /_sandbox/orders``)."""
    draft = order.draft
    return {
        "api": draft.api,
        "mchid": draft.mchid,
        "appid": draft.appid,
        "out_trade_no": draft.out_trade_no,
        "trade_type": draft.trade_type,
        "description": draft.description,
        "total": draft.total,
        "state": order.state,
        "prepay_id": order.prepay_id,
        "code_url": order.code_url,
        "transaction_id": order.transaction_id,
        "payer_openid": order.paid_openid or draft.payer_openid,
        "notify_url": draft.notify_url,
        "created_at": order.created_at.isoformat(),
        "time_expire": order.time_expire.isoformat(),
        "success_time": order.success_time.isoformat() if order.success_time else None,
        "history": [{"at": at.isoformat(), "what": what} for at, what in order.history],
        "refunds": [
            {
                "out_refund_no": r.out_refund_no,
                "refund_id": r.refund_id,
                "refund": r.refund,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "settle_at": r.settle_at.isoformat(),
            }
            for r in refunds
        ],
    }
