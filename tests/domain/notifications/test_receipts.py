"""Verdicts and the statuses they are answered with."""

from __future__ import annotations

import pytest

from paydesk.domain.notifications.receipts import (
    VERDICT_LENGTH,
    Receipt,
    Verdict,
    anomaly,
    status_for,
    verdict_for,
)
from paydesk.domain.payments.settle import Outcome, Settled


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        (Verdict.APPLIED, 204),
        (Verdict.DUPLICATE, 204),
        (Verdict.NOT_PAID, 204),
        (Verdict.STALE, 204),
        (Verdict.IGNORED, 204),
        ("anomaly:paid_after_close", 204),
        (Verdict.REJECTED_SIGNATURE, 401),
        (Verdict.REJECTED_PROBE, 401),
        (Verdict.REJECTED_STALE, 401),
        (Verdict.REJECTED_DECRYPT, 401),
        (Verdict.REJECTED_MALFORMED, 400),
        (Verdict.REJECTED_TOO_LARGE, 413),
        (Verdict.UNKNOWN_MERCHANT, 404),
    ],
)
def test_every_verdict_has_its_status(verdict: str, status: int) -> None:
    assert status_for(verdict) == status
    assert Receipt(verdict, status, "m", None).accepted is (status == 204)


@pytest.mark.parametrize(
    ("settled", "verdict"),
    [
        (Settled(Outcome.PAID), "applied"),
        (Settled(Outcome.DUPLICATE), "duplicate"),
        (Settled(Outcome.NOT_PAID), "not_paid"),
        (Settled(Outcome.ANOMALY, anomaly="double_payment"), "anomaly:double_payment"),
        (Settled(Outcome.UNKNOWN_ORDER, anomaly="unknown_order"), "anomaly:unknown_order"),
        (Settled(Outcome.UNKNOWN_ORDER), "anomaly:unknown_order"),
    ],
)
def test_settle_outcomes_become_verdicts(settled: Settled, verdict: str) -> None:
    assert verdict_for(settled) == verdict


def test_verdicts_fit_their_column() -> None:
    assert max(len(v) for v in Verdict) <= VERDICT_LENGTH
    assert len(anomaly("k" * 100)) == VERDICT_LENGTH
