"""WeChat's notification retry schedule, as a pure function (PROTOCOL.md §1.8, §3).

WeChat documents the gaps "15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h" for an
unacknowledged notification, 24 h 4 min in all. Our reading (WeChat does not say whether the
first send is counted): one immediate attempt, then up to 15 retries, each gap measured from
the *start of the previous attempt* on virtual time. So at most 16 attempts; the last starts
24 h 4 min after the first.

    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> next_attempt_at(1, t0) - t0
    datetime.timedelta(seconds=15)
    >>> next_attempt_at(MAX_ATTEMPTS, t0) is None
    True
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["MAX_ATTEMPTS", "RETRY_GAPS", "next_attempt_at", "schedule_offsets"]

#: Seconds between attempt *n* and attempt *n + 1* (n = 1 … 15).
RETRY_GAPS: tuple[int, ...] = (
    15,
    15,
    30,
    3 * 60,
    10 * 60,
    20 * 60,
    30 * 60,
    30 * 60,
    30 * 60,
    60 * 60,
    3 * 3600,
    3 * 3600,
    3 * 3600,
    6 * 3600,
    6 * 3600,
)
#: The immediate attempt plus one retry per gap.
MAX_ATTEMPTS = len(RETRY_GAPS) + 1


def next_attempt_at(attempts_made: int, last_started: datetime) -> datetime | None:
    """When the next attempt is due after ``attempts_made`` failed ones; None: give up."""
    if attempts_made < 1 or attempts_made >= MAX_ATTEMPTS:
        return None
    return last_started + timedelta(seconds=RETRY_GAPS[attempts_made - 1])


def schedule_offsets() -> list[int]:
    """Seconds from the first attempt to each attempt, when every one fails.

    >>> schedule_offsets()[:4], schedule_offsets()[-1]
    ([0, 15, 30, 60], 86640)
    """
    offsets = [0]
    for gap in RETRY_GAPS:
        offsets.append(offsets[-1] + gap)
    return offsets
