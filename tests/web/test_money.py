"""Fen to yuan: integer arithmetic only, two decimals, thousands separated."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.web.money import yuan


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (1999, "19.99"),
        (100000, "1,000.00"),
        (2**31 - 1, "21,474,836.47"),
    ],
)
def test_table(fen: int, text: str) -> None:
    assert yuan(fen) == text


@given(st.integers(min_value=0, max_value=10**15))
def test_agrees_with_exact_decimal_arithmetic(fen: int) -> None:
    assert Decimal(yuan(fen).replace(",", "")) == Decimal(fen) / 100


@pytest.mark.parametrize("bad", [1.5, "100", True, None])
def test_only_integer_fen_is_an_amount(bad: object) -> None:
    with pytest.raises(TypeError):
        yuan(bad)  # type: ignore[arg-type]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        yuan(-1)
