"""The PAYING backoff as a table: 10 s after paying starts, then doubling gaps, at most 10 min."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paydesk.domain.sweeps.schedule import check_delay, next_check

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("checks_done", "seconds"),
    [
        (0, 10),  # the first look: 10 s after the prepay
        (1, 20),  # 10 × 2
        (2, 40),  # 10 × 2²
        (5, 320),  # 10 × 2⁵
        (6, 600),  # 10 × 2⁶ = 640, capped at 10 min
        (40, 600),  # no overflow however often
        (-3, 10),  # a nonsense count is the first look
    ],
)
def test_the_gap_doubles_up_to_ten_minutes(checks_done: int, seconds: int) -> None:
    assert check_delay(checks_done) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("checks_done", "expires_in", "due_in"),
    [
        (1, 7200, 20),  # far from expiry: the backoff
        (3, 7200, 80),
        (3, 30, 30),  # the backoff would pass expiry: due at expiry, for the close
        (9, 0, 0),  # expiring now: due now
    ],
)
def test_the_next_check_never_passes_the_expiry(
    checks_done: int, expires_in: int, due_in: int
) -> None:
    expires_at = T + timedelta(seconds=expires_in)
    assert next_check(T, checks_done, expires_at) == T + timedelta(seconds=due_in)
