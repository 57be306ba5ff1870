"""Refunds: partial and full, never more than was paid, retried under the same number.

::

    reserve.py   the amount reserved on the order by ONE conditional UPDATE (never > paid)
    remote.py    the WeChat call (v3 / v2, submit / query), its errors sorted
    service.py   request_refund: reserve → ask WeChat (no transaction open) → record
    settle.py    settle_refund: the ONE place a refund changes state
    checks.py    what makes a report contradict our records; anomalies
    reports.py   WeChat's answers and notifications, v3 and v2, as one RefundReport
    retry.py     retry_pending_refunds: the sweep, same out_refund_no every time
    abnormal.py  apply_abnormal_refund: an ABNORMAL refund paid out where the merchant says
    views.py     the refund's JSON

A refund's life: ``PENDING → PROCESSING → SUCCESS | CLOSED | ABNORMAL``; its order:
``PAID → PARTIALLY_REFUNDED → REFUNDED`` when the successful refunds add up to the paid amount.

>>> report_from_v3.__name__, settle_refund.__name__
('report_from_v3', 'settle_refund')
"""

from __future__ import annotations

from paydesk.domain.refunds.reports import (
    RefundReport,
    RefundStatus,
    report_from_v2,
    report_from_v2_accepted,
    report_from_v3,
)
from paydesk.domain.refunds.reserve import out_refund_no_for_key, reserve_refund
from paydesk.domain.refunds.retry import RetryRound, retry_delay, retry_pending_refunds
from paydesk.domain.refunds.service import get_refund, list_refunds, request_refund
from paydesk.domain.refunds.settle import RefundOutcome, RefundSettled, settle_refund
from paydesk.domain.refunds.views import refund_view

__all__ = [
    "RefundOutcome",
    "RefundReport",
    "RefundSettled",
    "RefundStatus",
    "RetryRound",
    "get_refund",
    "list_refunds",
    "out_refund_no_for_key",
    "refund_view",
    "report_from_v2",
    "report_from_v2_accepted",
    "report_from_v3",
    "request_refund",
    "reserve_refund",
    "retry_delay",
    "retry_pending_refunds",
    "settle_refund",
]
