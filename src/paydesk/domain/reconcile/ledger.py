"""Our side of one merchant's day, read from the database for :func:`~.diff.diff_bill`.

A bill day is a calendar day in Beijing time (WeChat's day: 00:00–24:00 +08:00). The ledger
holds every attempt and refund the bill names (whatever their date, so that "known but
unpaid" is told apart from "unknown"), plus what paydesk expects on that day's bill:

* every attempt WeChat reported paid (``payments.paid_at``, WeChat's ``success_time``) that day
  — the order's own payment, and any anomalous one paydesk recorded;
* every refund that succeeded that day *and* was requested that day.

>>> day_bounds(date(2026, 3, 1))[0].isoformat()
'2026-03-01T00:00:00+08:00'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import RefundState
from paydesk.db.models import Order, Payment, Refund
from paydesk.domain.reconcile.bill import TradeBill
from paydesk.domain.reconcile.diff import Ledger, LedgerPayment, LedgerRefund
from paydesk.protocol.times import BEIJING

__all__ = ["day_bounds", "load_ledger"]

#: Numbers per ``IN (…)`` list: well under every backend's limit on bound parameters.
_CHUNK = 500


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Beijing calendar day ``day`` as ``[start, end)``, aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=BEIJING)
    return start, start + timedelta(days=1)


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for at in range(0, len(values), _CHUNK):
        yield list(values[at : at + _CHUNK])


_PAYMENT_COLUMNS = (
    Payment.out_trade_no,
    Payment.order_id,
    Order.state,
    Order.amount,
    Payment.transaction_id,
    Payment.paid_at,
)
_REFUND_COLUMNS = (
    Refund.out_refund_no,
    Refund.order_id,
    Refund.state,
    Refund.amount,
    Refund.created_at,
    Refund.succeeded_at,
)


def _payment(row: Any) -> LedgerPayment:
    number, order_id, state, amount, transaction_id, paid_at = row
    return LedgerPayment(number, order_id, str(state), amount, transaction_id, paid_at)


def _refund(row: Any) -> LedgerRefund:
    number, order_id, state, amount, created_at, succeeded_at = row
    return LedgerRefund(number, order_id, str(state), amount, created_at, succeeded_at)


async def load_ledger(session: AsyncSession, *, mchid: str, day: date, bill: TradeBill) -> Ledger:
    """Merchant ``mchid``'s payments and refunds for ``day``, and those ``bill`` names."""
    start, end = day_bounds(day)
    payments = select(*_PAYMENT_COLUMNS).join(Order, Order.id == Payment.order_id)
    payments = payments.where(Payment.mchid == mchid)
    paid = {
        row.out_trade_no: row
        for row in map(
            _payment,
            await session.execute(
                payments.where(
                    Payment.transaction_id.is_not(None),
                    Payment.paid_at >= start,
                    Payment.paid_at < end,
                )
            ),
        )
    }
    known = dict(paid)
    for chunk in _chunks(sorted({row.out_trade_no for row in bill.payments})):
        for found in await session.execute(payments.where(Payment.out_trade_no.in_(chunk))):
            entry = _payment(found)
            known[entry.out_trade_no] = entry
    refunds = select(*_REFUND_COLUMNS).join(Order, Order.id == Refund.order_id)
    refunds = refunds.where(Order.mchid == mchid)
    succeeded = {
        row.out_refund_no: row
        for row in map(
            _refund,
            await session.execute(
                refunds.where(
                    Refund.state == RefundState.SUCCESS,
                    Refund.succeeded_at >= start,
                    Refund.succeeded_at < end,
                )
            ),
        )
    }
    refunds_known = dict(succeeded)
    for chunk in _chunks(sorted({row.reference for row in bill.refunds})):
        for named in await session.execute(refunds.where(Refund.out_refund_no.in_(chunk))):
            refund = _refund(named)
            refunds_known[refund.out_refund_no] = refund
    return Ledger(
        payments=known,
        refunds=refunds_known,
        expected_payments=frozenset(paid),
        expected_refunds=frozenset(
            number for number, row in succeeded.items() if start <= row.created_at < end
        ),
    )
