"""Sweeps: the background checks that make paydesk right even when WeChat's messages are not.

::

    schedule.py         when a PAYING order is queried next (10 s, 20 s, 40 s … ≤ 10 min), pure
    claims.py           claiming due orders: FOR UPDATE SKIP LOCKED (PostgreSQL) + compare-and-set
    paying.py           query_paying_orders: PAYING orders queried and settled (sync_order)
    expiry.py           close_expired_orders: unpaid orders past expiry closed at WeChat and here
    anomaly_refunds.py  refund_anomalous_payments: a payment for a closed order, or a second
                        payment, refunded in full when the merchant says auto_refund_anomalies
    rounds.py           SweepRound: what a round did, by outcome

Refunds WeChat has not settled are retried by
:func:`paydesk.domain.refunds.retry_pending_refunds`, the fourth sweep. The worker
(:mod:`paydesk.workers.jobs`) runs them all; any number of workers may, on PostgreSQL.

>>> query_paying_orders.__name__, close_expired_orders.__name__
('query_paying_orders', 'close_expired_orders')
"""

from __future__ import annotations

from paydesk.domain.sweeps.anomaly_refunds import (
    AnomalousPayment,
    automatic_out_refund_no,
    find_anomalous_payments,
    refund_anomalous_payments,
)
from paydesk.domain.sweeps.claims import Claimed, claim_expired, claim_paying
from paydesk.domain.sweeps.expiry import EXPIRE_CAUSE, close_expired_orders
from paydesk.domain.sweeps.paying import QUERY_CAUSE, query_paying_orders
from paydesk.domain.sweeps.rounds import SweepRound
from paydesk.domain.sweeps.schedule import check_delay, next_check

__all__ = [
    "EXPIRE_CAUSE",
    "QUERY_CAUSE",
    "AnomalousPayment",
    "Claimed",
    "SweepRound",
    "automatic_out_refund_no",
    "check_delay",
    "claim_expired",
    "claim_paying",
    "close_expired_orders",
    "find_anomalous_payments",
    "next_check",
    "query_paying_orders",
    "refund_anomalous_payments",
]
