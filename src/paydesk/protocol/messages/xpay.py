"""Virtual payment's delivery event: ``xpay_goods_deliver_notify``, pushed when a user paid.

WeChat confirms a ``wx.requestVirtualPayment`` purchase (mode ``short_series_goods``) only
by this message push, to the mini program's message-push URL, signed (and in safe mode
encrypted) like every other push (PROTOCOL.md §4.4, §4.7;
https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/virtual-payment.html).
Its fields, XML or JSON::

    ToUserName, FromUserName, CreateTime, MsgType "event", Event "xpay_goods_deliver_notify",
    OpenId       the buyer
    OutTradeNo   the signData ``outTradeNo`` (our payment attempt's trade number)
    Env          0 live, 1 WeChat's virtual-payment sandbox
    WeChatPayInfo {MchOrderNo, TransactionId, PaidTime (Unix seconds)}
    GoodsInfo     {ProductId, Quantity, OrigPrice, ActualPrice (fen), Attach}
    RetryTimes   how many times WeChat sent it before

Sourcing caveat: these names come from WeChat's virtual-payment page as quoted by several
public integrations, not from a captured push; no official sample body was found.

WeChat wants the answer ``{"ErrCode": 0, "ErrMsg": "success"}`` (:func:`xpay_answer`) within
5 s; anything else makes it send again (15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h).

>>> event = parse_goods_deliver({"ToUserName": "gh_1", "FromUserName": "o1",
...     "CreateTime": 7, "MsgType": "event", "Event": "xpay_goods_deliver_notify",
...     "OpenId": "o1", "OutTradeNo": "T1", "Env": 1,
...     "WeChatPayInfo": {"MchOrderNo": "M1", "TransactionId": "42", "PaidTime": 9},
...     "GoodsInfo": {"ProductId": "gold", "Quantity": 1, "OrigPrice": 100,
...                   "ActualPrice": 100, "Attach": "ord_1"}})
>>> event.out_trade_no, event.actual_price, event.payment_id
('T1', 100, '42')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.xmlcodec import XmlValue

__all__ = [
    "GOODS_DELIVER_EVENT",
    "GoodsDeliverNotify",
    "goods_deliver_fields",
    "is_goods_deliver",
    "parse_goods_deliver",
    "parse_xpay_answer",
    "xpay_answer",
]

#: The ``Event`` of a paid virtual-payment item.
GOODS_DELIVER_EVENT = "xpay_goods_deliver_notify"


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodsDeliverNotify:
    """One ``xpay_goods_deliver_notify`` push, typed. Amounts are integer fen.

    >>> GoodsDeliverNotify(to_user="gh", from_user="o1", create_time=1, openid="o1",
    ...     out_trade_no="T1", env=0, mch_order_no="M1", transaction_id=None, paid_time=None,
    ...     product_id="p", quantity=1, orig_price=None, actual_price=5).payment_id
    'M1'
    """

    to_user: str  #: the mini program's original id (``gh_…``)
    from_user: str
    create_time: int  #: Unix seconds
    openid: str  #: ``OpenId``: the buyer
    out_trade_no: str  #: ``OutTradeNo``: the signData ``outTradeNo``
    env: int  #: ``Env``: 0 live, 1 sandbox
    mch_order_no: str | None  #: ``WeChatPayInfo.MchOrderNo``
    transaction_id: str | None  #: ``WeChatPayInfo.TransactionId``
    paid_time: int | None  #: ``WeChatPayInfo.PaidTime``, Unix seconds
    product_id: str  #: ``GoodsInfo.ProductId``
    quantity: int  #: ``GoodsInfo.Quantity``
    orig_price: int | None  #: ``GoodsInfo.OrigPrice``, fen
    actual_price: int  #: ``GoodsInfo.ActualPrice``, fen: what the user paid
    attach: str | None = None  #: ``GoodsInfo.Attach``
    retry_times: int = 0  #: ``RetryTimes``

    @property
    def payment_id(self) -> str:
        """WeChat's id of the payment: ``TransactionId``, else ``MchOrderNo``."""
        return self.transaction_id or self.mch_order_no or ""


def is_goods_deliver(fields: Mapping[str, Any]) -> bool:
    """Whether a parsed push (its fields) is a goods-delivery event.

    >>> is_goods_deliver({"MsgType": "event", "Event": "xpay_goods_deliver_notify"})
    True
    >>> is_goods_deliver({"MsgType": "text", "Event": "xpay_goods_deliver_notify"})
    False
    """
    return fields.get("MsgType") == "event" and fields.get("Event") == GOODS_DELIVER_EVENT


def _optional_text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # JSON pushes may send ids as numbers
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedInput(f"xpay event field {name} is not text", field=name)
    return value


def _required_text(fields: Mapping[str, Any], name: str) -> str:
    value = _optional_text(fields, name)
    if value is None:
        raise MalformedInput(f"xpay event field {name} is missing", field=name)
    return value


def _optional_int(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    # JSON gives numbers, XML text; either way a whole, non-negative number (fen, seconds).
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    raise MalformedInput(f"xpay event field {name} is not a whole number: {value!r}", field=name)


def _required_int(fields: Mapping[str, Any], name: str) -> int:
    value = _optional_int(fields, name)
    if value is None:
        raise MalformedInput(f"xpay event field {name} is missing", field=name)
    return value


def _object(fields: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = fields.get(name)
    if not isinstance(value, Mapping):
        raise MalformedInput(f"xpay event field {name} is missing or not an object", field=name)
    return value


def parse_goods_deliver(fields: Mapping[str, Any]) -> GoodsDeliverNotify:
    """The event in a parsed push's fields (``PushedMessage.raw``); MalformedInput when it is
    not a complete ``xpay_goods_deliver_notify``.

    >>> parse_goods_deliver({"MsgType": "event", "Event": "user_enter_tempsession"})
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.MalformedInput: push is not an xpay_goods_deliver_notify event
    """
    if not is_goods_deliver(fields):
        raise MalformedInput(f"push is not an {GOODS_DELIVER_EVENT} event", field="Event")
    pay_info = _object(fields, "WeChatPayInfo")
    goods = _object(fields, "GoodsInfo")
    event = GoodsDeliverNotify(
        to_user=_required_text(fields, "ToUserName"),
        from_user=_required_text(fields, "FromUserName"),
        create_time=_required_int(fields, "CreateTime"),
        openid=_required_text(fields, "OpenId"),
        out_trade_no=_required_text(fields, "OutTradeNo"),
        env=_required_int(fields, "Env"),
        mch_order_no=_optional_text(pay_info, "MchOrderNo"),
        transaction_id=_optional_text(pay_info, "TransactionId"),
        paid_time=_optional_int(pay_info, "PaidTime"),
        product_id=_required_text(goods, "ProductId"),
        quantity=_required_int(goods, "Quantity"),
        orig_price=_optional_int(goods, "OrigPrice"),
        actual_price=_required_int(goods, "ActualPrice"),
        attach=_optional_text(goods, "Attach"),
        retry_times=_optional_int(fields, "RetryTimes") or 0,
    )
    if not event.payment_id:
        raise MalformedInput(
            "xpay event names no payment: WeChatPayInfo needs TransactionId or MchOrderNo",
            field="WeChatPayInfo",
        )
    return event


def goods_deliver_fields(event: GoodsDeliverNotify) -> dict[str, XmlValue]:
    """The push fields of ``event``, in WeChat's order (the sandbox sends these).

    >>> fields = goods_deliver_fields(parse_goods_deliver({"ToUserName": "gh",
    ...     "FromUserName": "o1", "CreateTime": 7, "MsgType": "event",
    ...     "Event": "xpay_goods_deliver_notify", "OpenId": "o1", "OutTradeNo": "T1", "Env": 1,
    ...     "WeChatPayInfo": {"TransactionId": "42"},
    ...     "GoodsInfo": {"ProductId": "gold", "Quantity": 1, "ActualPrice": 100}}))
    >>> fields["GoodsInfo"]
    {'ProductId': 'gold', 'Quantity': 1, 'OrigPrice': 100, 'ActualPrice': 100, 'Attach': ''}
    """
    pay_info: dict[str, XmlValue] = {
        "MchOrderNo": event.mch_order_no or "",
        "TransactionId": event.transaction_id or "",
    }
    if event.paid_time is not None:
        pay_info["PaidTime"] = event.paid_time
    return {
        "ToUserName": event.to_user,
        "FromUserName": event.from_user,
        "CreateTime": event.create_time,
        "MsgType": "event",
        "Event": GOODS_DELIVER_EVENT,
        "OpenId": event.openid,
        "OutTradeNo": event.out_trade_no,
        "Env": event.env,
        "WeChatPayInfo": pay_info,
        "GoodsInfo": {
            "ProductId": event.product_id,
            "Quantity": event.quantity,
            "OrigPrice": event.orig_price if event.orig_price is not None else event.actual_price,
            "ActualPrice": event.actual_price,
            "Attach": event.attach or "",
        },
        "RetryTimes": event.retry_times,
    }


def xpay_answer(err_code: int = 0, err_msg: str = "success") -> bytes:
    """The JSON answer to an xpay event: ErrCode 0 stops WeChat's retries, anything else not.

    >>> xpay_answer()
    b'{"ErrCode":0,"ErrMsg":"success"}'
    """
    return json.dumps(
        {"ErrCode": err_code, "ErrMsg": err_msg}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def parse_xpay_answer(body: bytes) -> int | None:
    """The ``ErrCode`` of an answer to an xpay event; None when the answer is not one.

    >>> parse_xpay_answer(b'{"ErrCode": 0, "ErrMsg": "success"}'), parse_xpay_answer(b"success")
    (0, None)
    """
    try:
        loaded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    code = loaded.get("ErrCode") if isinstance(loaded, dict) else None
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return None
