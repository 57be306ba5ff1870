"""The retry schedule as a table: after n failed attempts, the next one is due gap[n] later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paydesk.sandbox.pay.retry import MAX_ATTEMPTS, RETRY_GAPS, next_attempt_at, schedule_offsets

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts_made", "gap"),
    [
        (1, 15),  # after the immediate attempt
        (2, 15),
        (3, 30),
        (4, 3 * 60),
        (5, 10 * 60),
        (6, 20 * 60),
        (7, 30 * 60),
        (8, 30 * 60),
        (9, 30 * 60),
        (10, 60 * 60),
        (11, 3 * 3600),
        (12, 3 * 3600),
        (13, 3 * 3600),
        (14, 6 * 3600),
        (15, 6 * 3600),  # the 16th and last attempt
    ],
)
def test_each_gap_is_wechats(attempts_made: int, gap: int) -> None:
    assert next_attempt_at(attempts_made, T0) == T0 + timedelta(seconds=gap)


@pytest.mark.parametrize("attempts_made", [0, 16, 17])
def test_no_attempt_before_the_first_or_after_the_sixteenth(attempts_made: int) -> None:
    assert next_attempt_at(attempts_made, T0) is None


def test_the_whole_schedule_takes_24_hours_4_minutes() -> None:
    assert MAX_ATTEMPTS == 16
    assert len(RETRY_GAPS) == 15
    assert schedule_offsets()[-1] == 24 * 3600 + 4 * 60
    assert schedule_offsets() == [
        0,
        15,
        30,
        60,
        240,
        840,
        2040,
        3840,
        5640,
        7440,
        11040,
        21840,
        32640,
        43440,
        65040,
        86640,
    ]
