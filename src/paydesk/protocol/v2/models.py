"""Typed Pay v2 responses: unifiedorder, orderquery, closeorder, refund, refundquery.

Every v2 reply is HTTP 200 (PROTOCOL.md §2.2). Two layers of status live in the body:

- ``return_code`` (``SUCCESS``/``FAIL``) says whether the *call* got through; on ``FAIL``
  (bad signature, bad XML, …) only ``return_msg`` follows, and there is no ``sign``;
- ``result_code`` says whether the *business* operation succeeded; on ``FAIL``, ``err_code``
  and ``err_code_des`` say why (``ORDERPAID``, ``ORDERNOTEXIST``, ``SYSTEMERROR`` …).

A business failure is an answer, not a broken input: these models expose ``ok``, ``err_code``
and ``err_code_des`` and leave the decision to the caller. Only a body that cannot be parsed,
does not verify, or claims success without its essential fields raises.

>>> fields = {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "ORDERPAID",
...           "err_code_des": "订单已支付"}
>>> reply = CloseOrderResponse.from_fields(fields)
>>> reply.ok, reply.err_code
(False, 'ORDERPAID')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from paydesk.protocol.v2.codec import (
    fen,
    optional_fen,
    optional_text,
    parse_v2_fields,
    required_text,
)
from paydesk.protocol.v2.sign import SignType, verify_v2
from paydesk.protocol.xmlcodec import DEFAULT_MAX_BYTES

__all__ = [
    "CloseOrderResponse",
    "OrderQueryResponse",
    "RefundQueryItem",
    "RefundQueryResponse",
    "RefundResponse",
    "UnifiedOrderResponse",
    "V2Response",
    "parse_v2_response",
]


def parse_v2_response(
    body: bytes | str, *, key: str, sign_type: SignType, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, str]:
    """Parse a v2 API reply and verify its ``sign`` whenever ``return_code`` is ``SUCCESS``.

    A ``FAIL`` reply carries no signature and is returned as is (it only ever says the call
    was refused).

    >>> parse_v2_response("<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg>"
    ...                   "</xml>", key="k", sign_type="MD5")
    {'return_code': 'FAIL', 'return_msg': '签名错误'}
    """
    fields = parse_v2_fields(body, max_bytes=max_bytes)
    if required_text(fields, "return_code") == "SUCCESS":
        verify_v2(fields, key, sign_type)
    return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class V2Response:
    """What every v2 reply has: the two status layers, the error fields, and ``raw``.

    >>> V2Response.from_fields({"return_code": "FAIL", "return_msg": "签名错误"}).ok
    False
    """

    return_code: str
    return_msg: str | None
    result_code: str | None
    err_code: str | None
    err_code_des: str | None
    raw: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when the call got through and the business operation succeeded.

        >>> V2Response.from_fields({"return_code": "SUCCESS", "result_code": "SUCCESS"}).ok
        True
        """
        return self.return_code == "SUCCESS" and self.result_code == "SUCCESS"

    @staticmethod
    def _common(fields: Mapping[str, str]) -> dict[str, Any]:
        return {
            "return_code": required_text(fields, "return_code"),
            "return_msg": optional_text(fields, "return_msg"),
            "result_code": optional_text(fields, "result_code"),
            "err_code": optional_text(fields, "err_code"),
            "err_code_des": optional_text(fields, "err_code_des"),
            "raw": dict(fields),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        """Build from the fields :func:`parse_v2_response` returned.

        >>> V2Response.from_fields({"return_code": "FAIL", "return_msg": "签名错误"}).return_msg
        '签名错误'
        """
        return cls(**cls._common(fields))


def _when_ok(fields: Mapping[str, str], name: str) -> str | None:
    """A field the reply must carry when it reports success; optional otherwise."""
    ok = fields.get("return_code") == "SUCCESS" and fields.get("result_code") == "SUCCESS"
    return required_text(fields, name) if ok else optional_text(fields, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnifiedOrderResponse(V2Response):
    """``/pay/unifiedorder``: ``prepay_id`` (always when ok), ``code_url`` (NATIVE),
    ``mweb_url`` (MWEB, i.e. H5).

    >>> UnifiedOrderResponse.from_fields({"return_code": "SUCCESS", "result_code": "SUCCESS",
    ...     "trade_type": "NATIVE", "prepay_id": "wx1", "code_url": "weixin://x"}).code_url
    'weixin://x'
    """

    trade_type: str | None
    prepay_id: str | None
    code_url: str | None
    mweb_url: str | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        """Build from verified reply fields; ``MalformedInput`` if ok but no ``prepay_id``."""
        return cls(
            **cls._common(fields),
            trade_type=optional_text(fields, "trade_type"),
            prepay_id=_when_ok(fields, "prepay_id"),
            code_url=optional_text(fields, "code_url"),
            mweb_url=optional_text(fields, "mweb_url"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderQueryResponse(V2Response):
    """``/pay/orderquery``: the order's ``trade_state`` and, once paid, the payment.

    ``trade_state``: ``SUCCESS | REFUND | NOTPAY | CLOSED | REVOKED | USERPAYING | PAYERROR``.

    >>> OrderQueryResponse.from_fields({"return_code": "SUCCESS", "result_code": "SUCCESS",
    ...     "trade_state": "NOTPAY", "out_trade_no": "o1"}).trade_state
    'NOTPAY'
    """

    trade_state: str | None
    trade_state_desc: str | None
    out_trade_no: str | None
    transaction_id: str | None
    openid: str | None
    trade_type: str | None
    bank_type: str | None
    total_fee: int | None  #: fen
    cash_fee: int | None  #: fen
    time_end: str | None  #: ``yyyyMMddHHmmss``, Beijing time
    attach: str | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        """Build from verified reply fields; ``MalformedInput`` if ok but no ``trade_state``."""
        return cls(
            **cls._common(fields),
            trade_state=_when_ok(fields, "trade_state"),
            trade_state_desc=optional_text(fields, "trade_state_desc"),
            out_trade_no=optional_text(fields, "out_trade_no"),
            transaction_id=optional_text(fields, "transaction_id"),
            openid=optional_text(fields, "openid"),
            trade_type=optional_text(fields, "trade_type"),
            bank_type=optional_text(fields, "bank_type"),
            total_fee=optional_fen(fields, "total_fee"),
            cash_fee=optional_fen(fields, "cash_fee"),
            time_end=optional_text(fields, "time_end"),
            attach=optional_text(fields, "attach"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseOrderResponse(V2Response):
    """``/pay/closeorder``: nothing beyond the status; ``ORDERPAID`` means refund instead.

    >>> CloseOrderResponse.from_fields({"return_code": "SUCCESS", "result_code": "SUCCESS"}).ok
    True
    """

    result_msg: str | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        """Build from verified reply fields."""
        return cls(**cls._common(fields), result_msg=optional_text(fields, "result_msg"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundResponse(V2Response):
    """``/secapi/pay/refund``: the refund was *accepted*; confirm by notify or refund query.

    >>> RefundResponse.from_fields({"return_code": "SUCCESS", "result_code": "SUCCESS",
    ...     "out_refund_no": "r1", "refund_id": "50000", "refund_fee": "1"}).refund_fee
    1
    """

    transaction_id: str | None
    out_trade_no: str | None
    out_refund_no: str | None
    refund_id: str | None
    refund_fee: int | None  #: fen
    total_fee: int | None  #: fen
    cash_refund_fee: int | None  #: fen

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        """Build from verified reply fields; ``MalformedInput`` if ok but no ``refund_id``."""
        return cls(
            **cls._common(fields),
            transaction_id=optional_text(fields, "transaction_id"),
            out_trade_no=optional_text(fields, "out_trade_no"),
            out_refund_no=_when_ok(fields, "out_refund_no"),
            refund_id=_when_ok(fields, "refund_id"),
            refund_fee=optional_fen(fields, "refund_fee"),
            total_fee=optional_fen(fields, "total_fee"),
            cash_refund_fee=optional_fen(fields, "cash_refund_fee"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundQueryItem:
    """One refund of a ``/pay/refundquery`` reply (its ``_$n`` fields).

    ``refund_status``: ``SUCCESS | REFUNDCLOSE | PROCESSING | CHANGE``.

    >>> RefundQueryItem(out_refund_no="r1", refund_id="5001", refund_fee=3,
    ...                 refund_status="CHANGE", refund_recv_accout=None,
    ...                 refund_success_time=None).refund_status
    'CHANGE'
    """

    out_refund_no: str
    refund_id: str
    refund_fee: int  #: fen
    refund_status: str
    refund_recv_accout: str | None  #: WeChat's spelling
    refund_success_time: str | None  #: ``yyyy-MM-dd HH:mm:ss``, Beijing time


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundQueryResponse(V2Response):
    """``/pay/refundquery``: the order and its refunds, unrolled from ``…_0``, ``…_1`` fields.

    >>> reply = RefundQueryResponse.from_fields({"return_code": "SUCCESS",
    ...     "result_code": "SUCCESS", "refund_count": "1", "out_refund_no_0": "r1",
    ...     "refund_id_0": "5001", "refund_fee_0": "3", "refund_status_0": "PROCESSING"})
    >>> [(r.out_refund_no, r.refund_status) for r in reply.refunds]
    [('r1', 'PROCESSING')]
    """

    transaction_id: str | None
    out_trade_no: str | None
    total_fee: int | None  #: fen
    refunds: tuple[RefundQueryItem, ...]

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Self:
        """Build from verified reply fields; each listed refund must have its id, fee and status."""
        count = optional_fen(fields, "refund_count") or 0
        refunds = tuple(
            RefundQueryItem(
                out_refund_no=required_text(fields, f"out_refund_no_{n}"),
                refund_id=required_text(fields, f"refund_id_{n}"),
                refund_fee=fen(fields, f"refund_fee_{n}"),
                refund_status=required_text(fields, f"refund_status_{n}"),
                refund_recv_accout=optional_text(fields, f"refund_recv_accout_{n}"),
                refund_success_time=optional_text(fields, f"refund_success_time_{n}"),
            )
            for n in range(count)
        )
        return cls(
            **cls._common(fields),
            transaction_id=optional_text(fields, "transaction_id"),
            out_trade_no=optional_text(fields, "out_trade_no"),
            total_fee=optional_fen(fields, "total_fee"),
            refunds=refunds,
        )
