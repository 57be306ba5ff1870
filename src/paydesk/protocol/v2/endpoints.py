"""The five Pay v2 endpoints paydesk speaks, as data (PROTOCOL.md §2.2).

Each is a POST of signed XML to ``V2_HOST + path``; every reply is HTTP 200 with a
``return_code``/``result_code`` body. ``/secapi/…`` paths need the merchant's TLS client
certificate. ``required`` lists the request fields WeChat answers ``LACK_PARAMS`` for, and
``one_of`` the alternatives of which at least one must be present.

>>> REFUND.path, REFUND.client_cert
('/secapi/pay/refund', True)
>>> ORDER_QUERY.missing({"appid": "wx1", "mch_id": "1", "nonce_str": "n", "sign": "S"})
['transaction_id|out_trade_no']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from paydesk.protocol.v2.models import (
    CloseOrderResponse,
    OrderQueryResponse,
    RefundQueryResponse,
    RefundResponse,
    UnifiedOrderResponse,
    V2Response,
)

__all__ = [
    "CLOSE_ORDER",
    "ENDPOINTS",
    "ORDER_QUERY",
    "REFUND",
    "REFUND_QUERY",
    "UNIFIED_ORDER",
    "V2_HOST",
    "V2Endpoint",
]

#: The production host of Pay v2.
V2_HOST = "https://api.mch.weixin.qq.com"

_SIGNED = ("appid", "mch_id", "nonce_str", "sign")


@dataclass(frozen=True, slots=True)
class V2Endpoint:
    """One v2 API: where it lives, what it needs, and which model reads its reply.

    >>> V2_HOST + UNIFIED_ORDER.path
    'https://api.mch.weixin.qq.com/pay/unifiedorder'
    """

    name: str
    path: str
    doc: str
    response: type[V2Response]
    required: tuple[str, ...]
    one_of: tuple[str, ...] = ()
    client_cert: bool = False
    method: str = "POST"

    def missing(self, fields: Mapping[str, str]) -> list[str]:
        """Required request fields that are absent or empty (``a|b`` for a one-of group).

        >>> CLOSE_ORDER.missing({"appid": "wx1"})
        ['mch_id', 'nonce_str', 'sign', 'out_trade_no']
        """
        absent = [name for name in self.required if not fields.get(name)]
        if self.one_of and not any(fields.get(name) for name in self.one_of):
            absent.append("|".join(self.one_of))
        return absent


UNIFIED_ORDER = V2Endpoint(
    "unifiedorder",
    "/pay/unifiedorder",
    doc="https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1",
    response=UnifiedOrderResponse,
    required=(
        *_SIGNED,
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ),
)
ORDER_QUERY = V2Endpoint(
    "orderquery",
    "/pay/orderquery",
    doc="https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2",
    response=OrderQueryResponse,
    required=_SIGNED,
    one_of=("transaction_id", "out_trade_no"),
)
CLOSE_ORDER = V2Endpoint(
    "closeorder",
    "/pay/closeorder",
    doc="https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3",
    response=CloseOrderResponse,
    required=(*_SIGNED, "out_trade_no"),
)
REFUND = V2Endpoint(
    "refund",
    "/secapi/pay/refund",
    doc="https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4",
    response=RefundResponse,
    required=(*_SIGNED, "out_refund_no", "total_fee", "refund_fee"),
    one_of=("transaction_id", "out_trade_no"),
    client_cert=True,
)
REFUND_QUERY = V2Endpoint(
    "refundquery",
    "/pay/refundquery",
    doc="https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5",
    response=RefundQueryResponse,
    required=_SIGNED,
    one_of=("transaction_id", "out_trade_no", "out_refund_no", "refund_id"),
)

#: Every v2 endpoint by path, for routing (the sandbox) and listing.
ENDPOINTS: Mapping[str, V2Endpoint] = MappingProxyType(
    {e.path: e for e in (UNIFIED_ORDER, ORDER_QUERY, CLOSE_ORDER, REFUND, REFUND_QUERY)}
)
