"""Money formatting and the JSON views the APIs and notifications are made of."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paydesk.protocol.v3.models.refunds import Refund, RefundNotification
from paydesk.sandbox.pay.model import RefundRecord, refund_json, refund_notice_json, yuan

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (99, "0.99"),
        (100, "1.00"),
        (-6, "-0.06"),
        (123456789, "1234567.89"),
    ],
)
def test_yuan_is_exact(fen: int, text: str) -> None:
    assert yuan(fen) == text


def _refund(status: str, success: datetime | None) -> RefundRecord:
    return RefundRecord(
        api="v3",
        mchid="1900000001",
        out_refund_no="R1",
        out_trade_no="T1",
        transaction_id="42",
        refund_id="50",
        refund=30,
        total=100,
        created_at=T0,
        settle_at=T0,
        fingerprint={},
        status=status,
        success_time=success,  # type: ignore[arg-type]
    )


def test_refund_views_validate_against_the_protocol_models() -> None:
    done = _refund("SUCCESS", T0)
    assert Refund.model_validate(refund_json(done)).success_time == "2026-03-01T08:00:00+08:00"
    notice = RefundNotification.model_validate(refund_notice_json(done))
    assert (notice.refund_status, notice.amount.payer_refund) == ("SUCCESS", 30)
    pending = _refund("PROCESSING", None)
    assert "success_time" not in refund_json(pending)
    assert "success_time" not in refund_notice_json(pending)
