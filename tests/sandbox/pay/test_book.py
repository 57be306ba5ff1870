"""The order book on its own: state rules with explicit virtual times, no HTTP."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from paydesk.sandbox.pay.book import MAX_ORDER_LIFETIME, PREPAY_VALIDITY, OrderBook
from paydesk.sandbox.pay.ids import Ids
from paydesk.sandbox.pay.model import OrderDraft
from paydesk.sandbox.pay.refusals import Refusal

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def _book() -> OrderBook:
    rng = random.Random(5)
    return OrderBook(Ids(lambda n, alphabet: "".join(rng.choice(alphabet) for _ in range(n))))


def _draft(number: str = "T_BOOK0001", **extra: object) -> OrderDraft:
    fields: dict[str, object] = {
        "api": "v3",
        "mchid": "1900000001",
        "appid": "wx1",
        "out_trade_no": number,
        "trade_type": "NATIVE",
        "description": "d",
        "total": 100,
        "notify_url": "http://m/n",
        "time_expire": None,
        "fingerprint": {"n": number},
    }
    return OrderDraft(**(fields | extra))  # type: ignore[arg-type]


def test_a_new_order_is_notpay_with_two_hours_of_prepay_and_seven_days_of_life() -> None:
    book = _book()
    order = book.place(_draft(), T0)
    assert order.state == "NOTPAY"
    assert order.prepay_expires_at == T0 + PREPAY_VALIDITY
    assert order.time_expire == T0 + MAX_ORDER_LIFETIME
    assert order.code_url is not None
    assert book.by_code(order.code or "", T0) is order
    assert book.by_prepay(order.prepay_id, T0) is order
    assert book.by_prepay("nope", T0) is None
    assert book.by_code("nope", T0) is None


def test_time_expire_later_than_seven_days_is_clamped_and_the_prepay_never_outlives_it() -> None:
    book = _book()
    late = book.place(_draft("T_BOOK0002", time_expire=T0 + timedelta(days=30)), T0)
    soon = book.place(_draft("T_BOOK0003", time_expire=T0 + timedelta(minutes=30)), T0)
    assert late.time_expire == T0 + MAX_ORDER_LIFETIME
    assert soon.prepay_expires_at == T0 + timedelta(minutes=30)


def test_v2_time_expire_errors_name_the_v2_field() -> None:
    with pytest.raises(Refusal) as caught:
        _book().place(_draft(api="v2", time_expire=T0), T0)
    assert caught.value.field == "time_expire"


def test_expiry_closes_at_time_expire() -> None:
    book = _book()
    order = book.place(_draft(), T0)
    book.expire(order, T0 + MAX_ORDER_LIFETIME - timedelta(seconds=1))
    assert order.state == "NOTPAY"
    found = book.get("1900000001", "T_BOOK0001", T0 + MAX_ORDER_LIFETIME)
    assert (found.state, found.closed_at) == ("CLOSED", T0 + MAX_ORDER_LIFETIME)
    assert found.history[-1] == (T0 + MAX_ORDER_LIFETIME, "expired → CLOSED")


def test_paid_orders_do_not_expire_and_are_found_by_transaction_id() -> None:
    book = _book()
    order = book.place(_draft(), T0)
    book.mark_paid(order, "oP", T0 + timedelta(minutes=1))
    book.expire(order, T0 + timedelta(days=30))
    assert order.state == "SUCCESS"
    assert book.get_by_transaction("1900000001", order.transaction_id or "", T0) is order
    with pytest.raises(Refusal, match="ORDER_NOT_EXIST"):
        book.get_by_transaction("1900000002", order.transaction_id or "", T0)


def test_refund_bookkeeping() -> None:
    book = _book()
    order = book.place(_draft(), T0)
    book.mark_paid(order, "oP", T0)
    first, new = book.create_refund(
        api="v3",
        order=order,
        out_refund_no="R1",
        refund=70,
        total=100,
        fingerprint={"r": 1},
        now=T0,
        settle_after=5,
    )
    assert new
    assert (order.state, book.refunded(order)) == ("REFUND", 70)
    assert book.due_refunds(T0 + timedelta(seconds=4)) == []
    assert book.due_refunds(T0 + timedelta(seconds=5)) == [first]
    book.settle(first, "CLOSED", T0 + timedelta(seconds=5))
    assert book.refunded(order) == 0
    assert book.refunds_of(order) == [first]
    assert book.find_refunds("R1") == [first]
    book.arm("R2", "ABNORMAL")
    second, _ = book.create_refund(
        api="v3",
        order=order,
        out_refund_no="R2",
        refund=100,
        total=100,
        fingerprint={"r": 2},
        now=T0,
        settle_after=0,
    )
    assert second.forced == "ABNORMAL"
