"""Signed tokens: bound to purpose and secret, tamper-evident, expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.domain.errors import Unauthenticated
from paydesk.domain.tokens import sign_token, verify_token

NOW = datetime(2026, 11, 22, tzinfo=UTC)
KEY = b"0123456789abcdef0123456789abcdef"


def token(purpose: str = "cashier", **payload: object) -> str:
    return sign_token(KEY, purpose, {"order": "ord_1", **payload}, expires_at=NOW + timedelta(60))


def test_round_trip() -> None:
    assert verify_token(KEY, "cashier", token(extra=1), now=NOW) == {
        "order": "ord_1",
        "extra": 1,
        "exp": int((NOW + timedelta(60)).timestamp()),
    }


@pytest.mark.parametrize(
    ("key", "purpose", "text", "code"),
    [
        (KEY, "pay_ticket", None, "invalid_pay_ticket"),
        (b"another key", "cashier", None, "invalid_cashier"),
        (KEY, "cashier", "no-dot", "invalid_cashier"),
        (KEY, "cashier", ".", "invalid_cashier"),
        (KEY, "cashier", "x" * 3000, "invalid_cashier"),
    ],
)
def test_refusals(key: bytes, purpose: str, text: str | None, code: str) -> None:
    with pytest.raises(Unauthenticated) as info:
        verify_token(key, purpose, text or token(), now=NOW)
    assert info.value.code == code


def test_expiry() -> None:
    with pytest.raises(Unauthenticated) as info:
        verify_token(KEY, "cashier", token(), now=NOW + timedelta(61))
    assert info.value.code == "expired_cashier"


@given(
    st.integers(min_value=0),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
)
def test_any_changed_character_is_refused(position: int, replacement: str) -> None:
    original = token()
    index = position % len(original)
    if original[index] == replacement or original[index] == ".":
        return
    tampered = original[:index] + replacement + original[index + 1 :]
    with pytest.raises(Unauthenticated):
        verify_token(KEY, "cashier", tampered, now=NOW)
