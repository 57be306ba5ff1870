"""The bill against our ledger, line by line: pure, tested as a table.

Payments are matched on ``out_trade_no`` (each attempt has its own), refunds on
``out_refund_no``. Four kinds of difference, each later recorded as a ``reconcile_<kind>``
anomaly:

* ``missing_here`` — WeChat took (or gave back) money paydesk has no record of;
* ``missing_there`` — paydesk counts a payment (or refund) that WeChat's bill does not have;
* ``amount_differs`` — both have it, for different amounts;
* ``state_differs`` — both know the trade number, but paydesk does not know it as paid
  (e.g. still PAYING, or CLOSED), or not under the same transaction, or the bill says a
  refund succeeded that paydesk does not count as such.

A payment WeChat took for a CLOSED order that paydesk *did* record (``paid_after_close``) is
not a difference: the ledger agrees with the bill, and the anomaly already says it.

>>> Difference("amount_differs", "payment", "PD1", ours_amount=100, theirs_amount=90).fen
10
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from paydesk.domain.reconcile.bill import BillRow, TradeBill

__all__ = [
    "Difference",
    "DifferenceKind",
    "Ledger",
    "LedgerPayment",
    "LedgerRefund",
    "diff_bill",
]

DifferenceKind = Literal["missing_here", "missing_there", "amount_differs", "state_differs"]


@dataclass(frozen=True)
class LedgerPayment:
    """One payment attempt as paydesk knows it. ``transaction_id`` is None while unpaid."""

    out_trade_no: str
    order_id: str
    order_state: str
    amount: int  #: fen: the order's amount, which every attempt asks for
    transaction_id: str | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class LedgerRefund:
    """One refund as paydesk knows it."""

    out_refund_no: str
    order_id: str
    state: str
    amount: int
    created_at: datetime
    succeeded_at: datetime | None = None


@dataclass(frozen=True)
class Ledger:
    """Our side for one merchant and day.

    ``payments`` / ``refunds`` hold every record the bill names plus every record the day
    should have; ``expected_payments`` / ``expected_refunds`` are the numbers the day's bill
    must contain: attempts paid that day, refunds requested *and* succeeded that day (a refund
    straddling midnight may be billed on either day, so it is not expected on one).
    """

    payments: Mapping[str, LedgerPayment] = field(default_factory=dict)
    refunds: Mapping[str, LedgerRefund] = field(default_factory=dict)
    expected_payments: frozenset[str] = frozenset()
    expected_refunds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Difference:
    """One line where the bill and paydesk disagree. Amounts in fen; a missing side is None."""

    kind: DifferenceKind
    item: Literal["payment", "refund"]
    reference: str  #: ``out_trade_no`` or ``out_refund_no``
    order_id: str | None = None  #: ours, when we know the line
    ours_amount: int | None = None
    theirs_amount: int | None = None
    ours_state: str | None = None
    theirs_state: str | None = None

    @property
    def fen(self) -> int:
        """How many fen the two sides are apart on this line."""
        return abs((self.ours_amount or 0) - (self.theirs_amount or 0))


def diff_bill(bill: TradeBill, ledger: Ledger) -> list[Difference]:
    """Every difference between ``bill`` and ``ledger``, payments first, in bill order."""
    return [*_payments(bill.payments, ledger), *_refunds(bill.refunds, ledger)]


def _payment_kind(ours: LedgerPayment, row: BillRow) -> DifferenceKind | None:
    if ours.transaction_id != row.transaction_id:
        return "state_differs"
    if ours.amount != row.total:
        return "amount_differs"
    return None


def _payment_states(ours: LedgerPayment, row: BillRow) -> tuple[str, str]:
    """Unpaid here: our order's state; paid here under another transaction: both ids."""
    if ours.transaction_id is None:
        return ours.order_state, row.trade_state
    if ours.transaction_id != row.transaction_id:
        return f"SUCCESS {ours.transaction_id}", f"{row.trade_state} {row.transaction_id}"
    return "SUCCESS", row.trade_state


def _payments(rows: Iterable[BillRow], ledger: Ledger) -> Iterable[Difference]:
    seen: set[str] = set()
    for row in rows:
        seen.add(row.out_trade_no)
        ours = ledger.payments.get(row.out_trade_no)
        if ours is None:
            yield Difference(
                "missing_here",
                "payment",
                row.out_trade_no,
                theirs_amount=row.total,
                theirs_state=row.trade_state,
            )
            continue
        kind = _payment_kind(ours, row)
        if kind is None:
            continue
        ours_state, theirs_state = _payment_states(ours, row)
        yield Difference(
            kind,
            "payment",
            row.out_trade_no,
            order_id=ours.order_id,
            ours_amount=ours.amount,
            theirs_amount=row.total,
            ours_state=ours_state,
            theirs_state=theirs_state,
        )
    for number in sorted(ledger.expected_payments - seen):
        expected = ledger.payments[number]
        yield Difference(
            "missing_there",
            "payment",
            number,
            order_id=expected.order_id,
            ours_amount=expected.amount,
            ours_state="SUCCESS",
        )


def _refunds(rows: Iterable[BillRow], ledger: Ledger) -> Iterable[Difference]:
    seen: set[str] = set()
    for row in rows:
        number = row.reference
        seen.add(number)
        ours = ledger.refunds.get(number)
        if ours is None:
            yield Difference(
                "missing_here",
                "refund",
                number,
                theirs_amount=row.refund,
                theirs_state=row.refund_status,
            )
            continue
        both = Difference(
            "amount_differs",
            "refund",
            number,
            order_id=ours.order_id,
            ours_amount=ours.amount,
            theirs_amount=row.refund,
            ours_state=ours.state,
            theirs_state=row.refund_status,
        )
        if ours.amount != row.refund:
            yield both
        elif row.refund_status == "SUCCESS" and ours.state != "SUCCESS":
            yield replace(both, kind="state_differs")
    for number in sorted(ledger.expected_refunds - seen):
        expected = ledger.refunds[number]
        yield Difference(
            "missing_there",
            "refund",
            number,
            order_id=expected.order_id,
            ours_amount=expected.amount,
            ours_state=expected.state,
        )
