"""Reconciliation: WeChat's daily trade bill against paydesk's ledger.

::

    bill.py     the bill file (backtick-prefixed CSV, yuan, a summary) → rows in fen, pure
    ledger.py   our payments and refunds for a merchant's Beijing day
    diff.py     missing here / missing there / amount differs / state differs, pure
    service.py  reconcile(services, day): download, parse, diff, record as reconcile_* anomalies

``paydesk reconcile --date YYYY-MM-DD`` (:mod:`paydesk.cli.reconcile_cmd`) prints the result,
writes it as CSV and exits 1 on any difference.

>>> reconcile.__name__
'reconcile'
"""

from __future__ import annotations

from paydesk.domain.reconcile.bill import (
    BillRow,
    BillSummary,
    TradeBill,
    parse_trade_bill,
    yuan_to_fen,
)
from paydesk.domain.reconcile.diff import (
    Difference,
    DifferenceKind,
    Ledger,
    LedgerPayment,
    LedgerRefund,
    diff_bill,
)
from paydesk.domain.reconcile.ledger import day_bounds, load_ledger
from paydesk.domain.reconcile.service import (
    MerchantReconciliation,
    Reconciliation,
    reconcile,
    record_differences,
)

__all__ = [
    "BillRow",
    "BillSummary",
    "Difference",
    "DifferenceKind",
    "Ledger",
    "LedgerPayment",
    "LedgerRefund",
    "MerchantReconciliation",
    "Reconciliation",
    "TradeBill",
    "day_bounds",
    "diff_bill",
    "load_ledger",
    "parse_trade_bill",
    "reconcile",
    "record_differences",
    "yuan_to_fen",
]
