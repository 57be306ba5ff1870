"""The refund's public JSON: fen, ISO times in UTC, WeChat's id under its own name."""

from __future__ import annotations

from datetime import UTC, datetime

from paydesk.db.enums import RefundState
from paydesk.db.models import Refund
from paydesk.domain.refunds import refund_view


def test_a_succeeded_refund_as_json() -> None:
    created = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    done = datetime(2026, 3, 1, 4, 5, 30, tzinfo=UTC)
    refund = Refund(
        id="rfd_01",
        order_id="ord_01",
        out_refund_no="SHOP-R-1",
        amount=1999,
        reason="退货 returned",
        state=RefundState.SUCCESS,
        refund_id="50300305972020102203418789254",
        attempts=2,
        last_error=None,
        created_at=created,
        updated_at=done,
        succeeded_at=done,
    )
    assert refund_view(refund) == {
        "id": "rfd_01",
        "object": "refund",
        "order_id": "ord_01",
        "payment_id": None,
        "out_refund_no": "SHOP-R-1",
        "amount": 1999,
        "currency": "CNY",
        "reason": "退货 returned",
        "state": "SUCCESS",
        "wechat_refund_id": "50300305972020102203418789254",
        "attempts": 2,
        "last_error": None,
        "created_at": "2026-03-01T04:00:00Z",
        "updated_at": "2026-03-01T04:05:30Z",
        "succeeded_at": "2026-03-01T04:05:30Z",
    }
