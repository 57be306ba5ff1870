"""Ids: Crockford base32 digits two at a time say exactly what one digit at a time says, and
ids sort by the time they were made."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource, _base32

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def one_digit_at_a_time(value: int, length: int) -> str:
    digits = ""
    for _ in range(length):
        value, digit = divmod(value, 32)
        digits = CROCKFORD[digit] + digits
    return digits


@given(st.integers(min_value=0, max_value=2**400), st.integers(min_value=0, max_value=80))
def test_pairs_of_digits_are_the_digits(value: int, length: int) -> None:
    assert _base32(value, length) == one_digit_at_a_time(value, length)


def test_ids_sort_by_time_and_keep_their_shape() -> None:
    clock = FixedClock(datetime(2026, 11, 23, tzinfo=UTC))
    ids = IdSource(clock, lambda n: b"\xff" * n)
    first = ids.new("ord")
    clock.advance(0.001)
    second = ids.new("ord")
    assert first < second
    assert first.endswith("Z" * 16)
    assert len(first) == 4 + 26
    assert ids.out_trade_no().startswith("PD")
    assert len(ids.out_trade_no()) == 28
    assert len(ids.token(32)) == 52
    assert len(ids.token(5)) == 8
