"""Pydantic models of APIv3 payloads: requests we build, responses and notifications we read.

One module per subject: :mod:`.payments`, :mod:`.refunds`, :mod:`.notifications`, and
:mod:`.base` for the shared rules (strict requests, lenient responses, integer fen).

>>> Amount(total=100).model_dump()
{'total': 100, 'currency': 'CNY'}
"""

from __future__ import annotations

from paydesk.protocol.v3.models.base import (
    ErrorBody,
    Fen,
    PositiveFen,
    Quantity,
    RequestModel,
    ResponseModel,
    parse_json,
)
from paydesk.protocol.v3.models.notifications import EncryptedResource, NotificationEnvelope
from paydesk.protocol.v3.models.payments import (
    OUT_TRADE_NO_PATTERN,
    Amount,
    Detail,
    GoodsDetail,
    H5Info,
    Payer,
    PrepayRequest,
    PrepayResponse,
    PromotionDetail,
    PromotionGoodsDetail,
    SceneInfo,
    SettleInfo,
    StoreInfo,
    TradeState,
    TradeType,
    Transaction,
    TransactionAmount,
    TransactionPayer,
    TransactionSceneInfo,
)
from paydesk.protocol.v3.models.refunds import (
    ABNORMAL_REFUND_BANKS,
    AbnormalRefundRequest,
    AbnormalRefundTo,
    FundsFrom,
    Refund,
    RefundAmount,
    RefundAmountRequest,
    RefundGoodsDetail,
    RefundNotification,
    RefundNotificationAmount,
    RefundRequest,
    RefundStatus,
)

__all__ = [
    "ABNORMAL_REFUND_BANKS",
    "OUT_TRADE_NO_PATTERN",
    "AbnormalRefundRequest",
    "AbnormalRefundTo",
    "Amount",
    "Detail",
    "EncryptedResource",
    "ErrorBody",
    "Fen",
    "FundsFrom",
    "GoodsDetail",
    "H5Info",
    "NotificationEnvelope",
    "Payer",
    "PositiveFen",
    "PrepayRequest",
    "PrepayResponse",
    "PromotionDetail",
    "PromotionGoodsDetail",
    "Quantity",
    "Refund",
    "RefundAmount",
    "RefundAmountRequest",
    "RefundGoodsDetail",
    "RefundNotification",
    "RefundNotificationAmount",
    "RefundRequest",
    "RefundStatus",
    "RequestModel",
    "ResponseModel",
    "SceneInfo",
    "SettleInfo",
    "StoreInfo",
    "TradeState",
    "TradeType",
    "Transaction",
    "TransactionAmount",
    "TransactionPayer",
    "TransactionSceneInfo",
    "parse_json",
]
