"""Payment payloads: prepay requests and responses, and the Transaction (PROTOCOL.md §1.7).

Field lists follow wechatpay-java ``service/payments/model`` and the JSAPI / query doc tables
(pay.weixin.qq.com/doc/v3/merchant/4012791897, 4012791899). Limits are WeChat's.

>>> req = PrepayRequest(appid="wxd678efh567hg6787", mchid="1900007291", description="QQ公仔",
...     out_trade_no="1217752501201407033233368018", notify_url="https://example.com/notify",
...     amount=Amount(total=100), payer=Payer(openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))
>>> req.to_json()[:42]
b'{"appid":"wxd678efh567hg6787","mchid":"190'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from paydesk.protocol.times import parse_rfc3339
from paydesk.protocol.v3.models.base import (
    Fen,
    PositiveFen,
    Quantity,
    RequestModel,
    ResponseModel,
)

__all__ = [
    "OUT_TRADE_NO_PATTERN",
    "Amount",
    "Detail",
    "GoodsDetail",
    "H5Info",
    "Payer",
    "PrepayRequest",
    "PrepayResponse",
    "PromotionDetail",
    "PromotionGoodsDetail",
    "SceneInfo",
    "SettleInfo",
    "StoreInfo",
    "TradeState",
    "TradeType",
    "Transaction",
    "TransactionAmount",
    "TransactionPayer",
    "TransactionSceneInfo",
]

#: 6–32 characters of ``[0-9A-Za-z_-|*]``, unique per merchant (JSAPI doc, ``out_trade_no``).
OUT_TRADE_NO_PATTERN = r"^[0-9A-Za-z_\-|*]{6,32}$"

#: ``trade_state`` values (wechatpay-java ``Transaction.TradeStateEnum``).
TradeState = Literal[
    "SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"
]
#: ``trade_type`` values; ``MWEB`` is H5.
TradeType = Literal["JSAPI", "NATIVE", "APP", "MICROPAY", "MWEB", "FACEPAY"]


class Amount(RequestModel):
    """Order amount in fen; WeChat basic payments are CNY only. ``Amount(total=100)``."""

    total: PositiveFen
    currency: Literal["CNY"] = "CNY"


class Payer(RequestModel):
    """The payer's openid under the prepay ``appid`` (required for JSAPI / mini program)."""

    openid: str = Field(min_length=1, max_length=128)


class H5Info(RequestModel):
    """H5 (``MWEB``) scene: ``H5Info(type="Wap")``."""

    type: Literal["Wap", "iOS", "Android"]
    app_name: str | None = Field(default=None, max_length=64)
    app_url: str | None = Field(default=None, max_length=128)
    bundle_id: str | None = Field(default=None, max_length=128)
    package_name: str | None = Field(default=None, max_length=128)


class StoreInfo(RequestModel):
    """The merchant's store, for offline scenes."""

    id: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=256)
    area_code: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=512)


class SceneInfo(RequestModel):
    """Where the payment happens; H5 needs ``payer_client_ip`` and ``h5_info``."""

    payer_client_ip: str = Field(min_length=1, max_length=45)
    device_id: str | None = Field(default=None, max_length=32)
    store_info: StoreInfo | None = None
    h5_info: H5Info | None = None


class SettleInfo(RequestModel):
    """Settlement options: ``SettleInfo(profit_sharing=True)`` to freeze funds for sharing."""

    profit_sharing: bool | None = None


class GoodsDetail(RequestModel):
    """One line of the goods list (``detail.goods_detail``)."""

    merchant_goods_id: str = Field(min_length=1, max_length=32)
    wechatpay_goods_id: str | None = Field(default=None, max_length=32)
    goods_name: str | None = Field(default=None, max_length=256)
    quantity: Quantity
    unit_price: Fen


class Detail(RequestModel):
    """Discount details: the original price and the goods list."""

    cost_price: Fen | None = None
    invoice_id: str | None = Field(default=None, max_length=32)
    goods_detail: list[GoodsDetail] | None = None


class PrepayRequest(RequestModel):
    """The body of every prepay call (JSAPI, APP, H5, Native); channel rules are the caller's.

    ``notify_url`` must be absolute and carry no query string (WeChat wants https; the
    sandbox also accepts http).
    """

    appid: str = Field(min_length=1, max_length=32)
    mchid: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=127)
    out_trade_no: str = Field(pattern=OUT_TRADE_NO_PATTERN)
    time_expire: str | None = None
    attach: str | None = Field(default=None, max_length=128)
    notify_url: str = Field(max_length=255, pattern=r"^https?://[^?#\s]+$")
    goods_tag: str | None = Field(default=None, max_length=32)
    support_fapiao: bool | None = None
    amount: Amount
    payer: Payer | None = None
    detail: Detail | None = None
    scene_info: SceneInfo | None = None
    settle_info: SettleInfo | None = None

    @field_validator("time_expire")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rfc3339(value)
        return value


class PrepayResponse(ResponseModel):
    """What prepay returns: ``prepay_id`` (JSAPI/APP), ``h5_url`` (H5) or ``code_url`` (Native).

    >>> PrepayResponse(code_url="weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00").prepay_id
    """

    prepay_id: str | None = None
    h5_url: str | None = None
    code_url: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PrepayResponse:
        if self.prepay_id is None and self.h5_url is None and self.code_url is None:
            raise ValueError("prepay response has no prepay_id, h5_url or code_url")
        return self


class TransactionAmount(ResponseModel):
    """Amounts of a transaction; ``payer_total`` appears once paid."""

    total: Fen | None = None
    payer_total: Fen | None = None
    currency: str | None = None
    payer_currency: str | None = None


class TransactionPayer(ResponseModel):
    """The payer of a transaction."""

    openid: str | None = None


class TransactionSceneInfo(ResponseModel):
    """Scene echoed back in a transaction."""

    device_id: str | None = None


class PromotionGoodsDetail(ResponseModel):
    """Goods a promotion applied to."""

    goods_id: str
    quantity: Quantity
    unit_price: Fen
    discount_amount: Fen
    goods_remark: str | None = None


class PromotionDetail(ResponseModel):
    """One coupon or discount applied to a transaction (``amount`` in fen)."""

    coupon_id: str
    name: str | None = None
    scope: str | None = None
    type: str | None = None
    amount: Fen
    stock_id: str | None = None
    wechatpay_contribute: Fen | None = None
    merchant_contribute: Fen | None = None
    other_contribute: Fen | None = None
    currency: str | None = None
    goods_detail: list[PromotionGoodsDetail] | None = None


class Transaction(ResponseModel):
    """A payment as WeChat reports it: query responses and ``TRANSACTION.SUCCESS`` plaintext.

    >>> Transaction(appid="wx1", mchid="1", out_trade_no="T000001", trade_state="NOTPAY").paid
    False
    """

    appid: str
    mchid: str
    out_trade_no: str
    transaction_id: str | None = None
    trade_type: TradeType | None = None
    trade_state: TradeState
    trade_state_desc: str | None = None
    bank_type: str | None = None
    attach: str | None = None
    success_time: str | None = None
    payer: TransactionPayer | None = None
    amount: TransactionAmount | None = None
    scene_info: TransactionSceneInfo | None = None
    promotion_detail: list[PromotionDetail] | None = None

    @property
    def paid(self) -> bool:
        """True when the payment went through (``SUCCESS``, or later ``REFUND``)."""
        return self.trade_state in ("SUCCESS", "REFUND")
