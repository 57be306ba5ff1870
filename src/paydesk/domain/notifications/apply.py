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

from collections.abc import Awaitable, Callable
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

    from paydesk.db.models import Notification
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


async def _apply(
    services: Services,
    inbound: Inbound,
    reported_mchid: str,
    evidence: dict[str, object],
    settle_it: Callable[[AsyncSession], Awaitable[tuple[str, str | None]]],
    stored_as: Callable[[str, str | None], Notification],
) -> Receipt:
    """The one transaction of a verified notification: a foreign merchant is an anomaly,
    otherwise ``settle_it`` gives (verdict, order id); then the stored row ``stored_as`` makes."""
    order_id: str | None = None
    async with services.db.begin() as session:
        if reported_mchid != inbound.mchid:
            verdict = await _foreign_merchant(services, session, inbound, reported_mchid, evidence)
        else:
            verdict, order_id = await settle_it(session)
        row = stored_as(verdict, order_id)
        session.add(row)
    return Receipt(row.verdict, 204, row.detail or "", row.id, order_id)


async def apply_payment(
    services: Services, inbound: Inbound, report: TradeReport, *, event_id: str | None
) -> Receipt:
    """Settle a verified payment notification and store it, in one transaction."""
    if takes_fast_path(services):  # the common case in one statement (PostgreSQL)
        receipt = await settle_paid_at_once(services, inbound, report, event_id=event_id)
        if receipt is not None:
            return receipt

    async def settle_it(session: AsyncSession) -> tuple[str, str | None]:
        settled = await settle(
            session, report, cause=_cause(inbound), now=inbound.received_at, ids=services.ids
        )
        return verdict_for(settled), settled.order.id if settled.order is not None else None

    return await _apply(
        services,
        inbound,
        report.mchid,
        {"out_trade_no": report.out_trade_no, "transaction_id": report.transaction_id},
        settle_it,
        lambda verdict, order_id: payment_notification(
            inbound, report, verdict, event_id=event_id, order_id=order_id
        ),
    )


async def apply_refund(
    services: Services, inbound: Inbound, report: RefundReport, *, event_id: str | None
) -> Receipt:
    """Settle a verified (v3) or decrypted (v2) refund notification and store it, in one
    transaction."""

    async def settle_it(session: AsyncSession) -> tuple[str, str | None]:
        settled = await settle_refund(
            session, report, cause=_cause(inbound), now=inbound.received_at, ids=services.ids
        )
        return settled.verdict, settled.order_id

    return await _apply(
        services,
        inbound,
        report.mchid,
        {"out_refund_no": report.out_refund_no, "refund_id": report.refund_id},
        settle_it,
        lambda verdict, order_id: refund_notification(
            inbound, report, verdict, event_id=event_id, order_id=order_id
        ),
    )


def _cause(inbound: Inbound) -> str:
    return f"notify.{inbound.api_version.value}"
