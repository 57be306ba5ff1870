"""Apply a verified notification: check it names our merchant, settle it, store it — one commit.

The key that verified a notification was chosen by the merchant in the URL; the merchant
*inside* the body is then checked against it, never used to choose anything (DESIGN.md,
"Which key verifies what"). A mismatch is an anomaly and the notification is acknowledged
with the order untouched. Otherwise a payment goes to
:func:`~paydesk.domain.payments.settle.settle` (which checks app, trade number and amount
against our records and makes the one transition) and a refund to
:func:`~paydesk.domain.refunds.settle.settle_refund` (the same, for refunds). The
``notifications`` row is written in the same transaction, so a stored ``applied`` verdict and
its effect commit together or not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paydesk.domain.anomalies import record_anomaly
from paydesk.domain.notifications.fastpath import settle_paid_at_once, takes_fast_path
from paydesk.domain.notifications.receipts import Receipt, anomaly, verdict_for
from paydesk.domain.notifications.records import (
    Inbound,
    payment_notification,
    refund_notification,
)
from paydesk.domain.payments.settle import TradeReport, settle
from paydesk.domain.refunds import RefundReport, settle_refund

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from paydesk.domain.context import Services

__all__ = ["apply_payment", "apply_refund"]

_MERCHANT_MISMATCH = "merchant_mismatch"


async def _foreign_merchant(
    services: Services,
    session: AsyncSession,
    inbound: Inbound,
    reported: str,
    detail: dict[str, object],
) -> str:
    await record_anomaly(
        session,
        kind=_MERCHANT_MISMATCH,
        mchid=inbound.mchid,
        detail={"url_mchid": inbound.mchid, "reported_mchid": reported, **detail},
        now=inbound.received_at,
        ids=services.ids,
    )
    return anomaly(_MERCHANT_MISMATCH)


async def apply_payment(
    services: Services, inbound: Inbound, report: TradeReport, *, event_id: str | None
) -> Receipt:
    """Settle a verified payment notification and store it, in one transaction."""
    if takes_fast_path(services):  # the common case in one statement (PostgreSQL)
        receipt = await settle_paid_at_once(services, inbound, report, event_id=event_id)
        if receipt is not None:
            return receipt
    cause = f"notify.{inbound.api_version.value}"
    order_id: str | None = None
    async with services.db.begin() as session:
        if report.mchid != inbound.mchid:
            verdict = await _foreign_merchant(
                services,
                session,
                inbound,
                report.mchid,
                {"out_trade_no": report.out_trade_no, "transaction_id": report.transaction_id},
            )
        else:
            settled = await settle(
                session, report, cause=cause, now=inbound.received_at, ids=services.ids
            )
            verdict = verdict_for(settled)
            order_id = settled.order.id if settled.order is not None else None
        row = payment_notification(inbound, report, verdict, event_id=event_id, order_id=order_id)
        session.add(row)
    return Receipt(verdict, 204, row.detail or "", row.id, order_id)


async def apply_refund(
    services: Services, inbound: Inbound, report: RefundReport, *, event_id: str | None
) -> Receipt:
    """Settle a verified (v3) or decrypted (v2) refund notification and store it, in one
    transaction."""
    order_id: str | None = None
    async with services.db.begin() as session:
        if report.mchid != inbound.mchid:
            verdict = await _foreign_merchant(
                services,
                session,
                inbound,
                report.mchid,
                {"out_refund_no": report.out_refund_no, "refund_id": report.refund_id},
            )
        else:
            settled = await settle_refund(
                session,
                report,
                cause=f"notify.{inbound.api_version.value}",
                now=inbound.received_at,
                ids=services.ids,
            )
            verdict, order_id = settled.verdict, settled.order_id
        row = refund_notification(inbound, report, verdict, event_id=event_id, order_id=order_id)
        session.add(row)
    return Receipt(row.verdict, 204, row.detail or "", row.id, order_id)
