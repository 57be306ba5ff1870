"""What makes a refund report contradict our records, and how such a report is recorded.

A report is checked against *our* refund and order before it may move anything: the amount
refunded, the order's total, and the trade number (one of the order's attempts). A report that
fails — or names a refund we do not have — becomes an anomaly (``refund_mismatch`` /
``unknown_refund``) with its ``anomaly.created`` event, and changes nothing else.

>>> mismatch.__doc__.splitlines()[0]
'Why ``report`` cannot be about ``refund`` of ``order``, or ``None`` if it can.'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.models import Order, Payment, Refund
from paydesk.domain.anomalies import record_anomaly
from paydesk.domain.ids import IdSource
from paydesk.domain.refunds.reports import RefundReport

__all__ = ["mismatch", "record"]


async def mismatch(
    session: AsyncSession, order: Order, refund: Refund, report: RefundReport
) -> dict[str, Any] | None:
    """Why ``report`` cannot be about ``refund`` of ``order``, or ``None`` if it can."""
    if report.refund is not None and report.refund != refund.amount:
        return {"field": "refund", "ours": refund.amount, "reported": report.refund}
    if report.total is not None and report.total != order.amount:
        return {"field": "total", "ours": order.amount, "reported": report.total}
    if report.out_trade_no is not None:
        numbers = set(
            await session.scalars(select(Payment.out_trade_no).where(Payment.order_id == order.id))
        )
        if report.out_trade_no not in numbers | {order.out_trade_no}:
            return {"field": "out_trade_no", "reported": report.out_trade_no}
    return None


async def record(
    session: AsyncSession,
    kind: str,
    report: RefundReport,
    cause: str,
    now: datetime,
    ids: IdSource,
    order: Order | None = None,
    refund: Refund | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record ``kind`` for ``report`` (with its merchant event) in the caller's transaction."""
    await record_anomaly(
        session,
        kind=kind,
        mchid=report.mchid,
        order_id=order.id if order is not None else None,
        refund_id=refund.id if refund is not None else None,
        now=now,
        ids=ids,
        detail={
            **(detail or {}),
            "out_refund_no": report.out_refund_no,
            "status": report.status,
            "wechat_refund_id": report.refund_id,
            "cause": cause,
        },
    )
