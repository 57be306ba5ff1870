"""Delivery records as JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from paydesk.sandbox.pay.records import Attempt, Delivery

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_delivery_view_counts_real_attempts_and_can_carry_the_body() -> None:
    delivery = Delivery(
        event_id="e",
        event_type="TRANSACTION.SUCCESS",
        api="v3",
        mchid="1",
        out_trade_no="T",
        url="http://m/n",
        body='{"a":"甲"}'.encode(),
        content_type="application/json",
        signer=None,
        created_at=T0,
    )
    delivery.attempts += [
        Attempt(number=1, kind="probe", at=T0, url="http://m/n", status=400),
        Attempt(number=1, kind="real", at=T0, url="http://m/n", status=500),
        Attempt(number=1, kind="duplicate", at=T0, url="http://m/n", status=500),
    ]
    view = delivery.view(with_body=True)
    assert view["real_attempts"] == 1
    assert view["max_attempts"] == 16
    assert view["body"] == '{"a":"甲"}'
    assert view["next_attempt_at"] is None
    assert [a["kind"] for a in view["attempts"]] == ["probe", "real", "duplicate"]
    assert "body" not in delivery.view()
