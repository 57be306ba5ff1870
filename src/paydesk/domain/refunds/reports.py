"""WeChat's word on one refund — v3 or v2, notification, query or create answer — as one value.

The v3 query says ``status``, the v3 notification ``refund_status`` (PROTOCOL.md §1.8); v2
says ``SUCCESS``, ``PROCESSING``, ``REFUNDCLOSE`` or ``CHANGE`` (PROTOCOL.md §2.2, §2.3) where
v3 says ``SUCCESS``, ``PROCESSING``, ``CLOSED`` or ``ABNORMAL``. Everything becomes a
:class:`RefundReport` with v3's names, and :func:`~paydesk.domain.refunds.settle.settle_refund`
applies it.

>>> from paydesk.protocol.v2.models import RefundQueryItem
>>> item = RefundQueryItem(out_refund_no="R1", refund_id="5001", refund_fee=3,
...     refund_status="CHANGE", refund_recv_accout=None, refund_success_time=None)
>>> report_from_v2(item, mchid="1900000001").status
'ABNORMAL'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from paydesk.protocol import times
from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v2.models import RefundQueryItem, RefundResponse
from paydesk.protocol.v2.notify import V2RefundResult
from paydesk.protocol.v3.models import Refund, RefundNotification

__all__ = [
    "RefundReport",
    "RefundStatus",
    "report_from_v2",
    "report_from_v2_accepted",
    "report_from_v3",
]

#: WeChat's refund states, with v3's names.
RefundStatus = Literal["SUCCESS", "CLOSED", "ABNORMAL", "PROCESSING"]

#: v2 ``refund_status`` → v3 name (wiki/doc/api/jsapi.php?chapter=9_5).
V2_STATUS: dict[str, RefundStatus] = {
    "SUCCESS": "SUCCESS",
    "PROCESSING": "PROCESSING",
    "REFUNDCLOSE": "CLOSED",
    "CHANGE": "ABNORMAL",
}


@dataclass(frozen=True)
class RefundReport:
    """What WeChat says about one ``out_refund_no`` of one merchant. Amounts are fen.

    >>> RefundReport(mchid="1900000001", out_refund_no="R1", status="PROCESSING").refund is None
    True
    """

    mchid: str
    out_refund_no: str
    status: RefundStatus
    out_trade_no: str | None = None
    refund_id: str | None = None  #: WeChat's own refund id
    refund: int | None = None  #: the refunded amount
    total: int | None = None  #: the order's total as WeChat knows it
    success_time: datetime | None = None


def _rfc3339(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return times.parse_rfc3339(text)
    except MalformedInput:
        return None  # a bad timestamp must not hide the outcome; settling uses "now"


def _v2_success_time(text: str | None) -> datetime | None:
    # v2 refunds write ``yyyy-MM-dd HH:mm:ss`` in Beijing time, unlike the payment's
    # ``yyyyMMddHHmmss`` (PROTOCOL.md §2.3).
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=times.BEIJING)
    except ValueError:
        return None


def _v2_status(value: str) -> RefundStatus:
    try:
        return V2_STATUS[value]
    except KeyError:
        raise MalformedInput(
            f"unknown v2 refund_status {value[:20]!r}", field="refund_status"
        ) from None


def report_from_v3(
    refund: Refund | RefundNotification, *, mchid: str | None = None
) -> RefundReport:
    """A v3 ``Refund`` (create or query answer) or ``REFUND.*`` notification plaintext.

    The ``Refund`` object carries no ``mchid``: pass the merchant whose client asked.

    >>> from paydesk.protocol.v3.models import RefundAmount
    >>> answer = Refund(refund_id="50", out_refund_no="R1", status="PROCESSING",
    ...                 amount=RefundAmount(total=100, refund=30))
    >>> report_from_v3(answer, mchid="1900000001").refund
    30
    """
    if isinstance(refund, RefundNotification):
        status: RefundStatus = refund.refund_status
        owner = refund.mchid
    else:
        status = refund.status
        if mchid is None:
            raise TypeError("a v3 Refund answer has no mchid: pass the merchant that asked")
        owner = mchid
    return RefundReport(
        mchid=owner,
        out_refund_no=refund.out_refund_no,
        status=status,
        out_trade_no=refund.out_trade_no,
        refund_id=refund.refund_id,
        refund=refund.amount.refund,
        total=refund.amount.total,
        success_time=_rfc3339(refund.success_time),
    )


def report_from_v2(
    result: V2RefundResult | RefundQueryItem,
    *,
    mchid: str | None = None,
    out_trade_no: str | None = None,
    total: int | None = None,
) -> RefundReport:
    """A decrypted v2 refund notification, or one refund of a ``refundquery`` answer.

    A query item names neither merchant nor order: pass ``mchid`` (and ``out_trade_no`` /
    ``total`` from the answer's top level when known). Raises ``MalformedInput`` for a
    ``refund_status`` WeChat does not document.
    """
    if isinstance(result, V2RefundResult):
        return RefundReport(
            mchid=result.mch_id,
            out_refund_no=result.out_refund_no,
            status=_v2_status(result.refund_status),
            out_trade_no=result.out_trade_no,
            refund_id=result.refund_id,
            refund=result.refund_fee,
            total=result.total_fee,
            success_time=_v2_success_time(result.success_time),
        )
    if mchid is None:
        raise TypeError("a refundquery item has no mchid: pass the merchant that asked")
    return RefundReport(
        mchid=mchid,
        out_refund_no=result.out_refund_no,
        status=_v2_status(result.refund_status),
        out_trade_no=out_trade_no,
        refund_id=result.refund_id,
        refund=result.refund_fee,
        total=total,
        success_time=_v2_success_time(result.refund_success_time),
    )


def report_from_v2_accepted(reply: RefundResponse, *, mchid: str) -> RefundReport:
    """A successful ``/secapi/pay/refund`` answer: the refund is accepted, so PROCESSING.

    >>> reply = RefundResponse.from_fields({"return_code": "SUCCESS", "result_code": "SUCCESS",
    ...     "out_refund_no": "R1", "refund_id": "5001", "refund_fee": "3", "total_fee": "9"})
    >>> report_from_v2_accepted(reply, mchid="1900000002").status
    'PROCESSING'
    """
    return RefundReport(
        mchid=reply.raw.get("mch_id") or mchid,
        out_refund_no=reply.out_refund_no or "",
        status="PROCESSING",
        out_trade_no=reply.out_trade_no,
        refund_id=reply.refund_id,
        refund=reply.refund_fee,
        total=reply.total_fee,
    )
