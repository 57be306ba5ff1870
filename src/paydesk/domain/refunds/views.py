"""How a refund looks from outside: the API's JSON and the ``data`` of ``refund.*`` events.

Amounts are integer fen; times ISO 8601 in UTC. ``wechat_refund_id`` is WeChat's own id,
``out_refund_no`` the number WeChat knows the refund by (reused on every retry);
``payment_id`` is set only on an automatic refund of an anomalous attempt.
"""

from __future__ import annotations

from typing import Any

from paydesk.db.models import Refund
from paydesk.domain.orders.views import iso


def refund_view(refund: Refund) -> dict[str, Any]:
    """The public JSON of one refund.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> view = refund_view(Refund(id="rfd_1", order_id="ord_1", out_refund_no="rfd_1",
    ...     amount=30, reason=None, state="PENDING", refund_id=None, attempts=1,
    ...     last_error=None, created_at=at, updated_at=at, succeeded_at=None))
    >>> view["amount"], view["state"], view["created_at"]
    (30, 'PENDING', '2026-01-01T00:00:00Z')
    """
    return {
        "id": refund.id,
        "object": "refund",
        "order_id": refund.order_id,
        "payment_id": refund.payment_id,
        "out_refund_no": refund.out_refund_no,
        "amount": refund.amount,
        "currency": "CNY",
        "reason": refund.reason,
        "state": str(refund.state),
        "wechat_refund_id": refund.refund_id,
        "attempts": refund.attempts,
        "last_error": refund.last_error,
        "created_at": iso(refund.created_at),
        "updated_at": iso(refund.updated_at),
        "succeeded_at": iso(refund.succeeded_at),
    }
