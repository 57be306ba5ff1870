"""When the sweeps look at an order next: pure arithmetic, tested as a table.

A PAYING order is first queried :data:`FIRST_CHECK` after it started paying, then after gaps
that double — 10 s, 20 s, 40 s, 80 s … — up to :data:`MAX_CHECK_GAP`, and never later than
its expiry, when the expiry sweep takes over. WeChat's advice for a payment whose
notification did not come is to query the order (query API,
https://pay.weixin.qq.com/doc/v3/merchant/4012791899; PROTOCOL.md §1.7); the backoff keeps an
abandoned order from costing a query every few seconds for two hours.

>>> [int(check_delay(n).total_seconds()) for n in range(8)]
[10, 20, 40, 80, 160, 320, 600, 600]
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["CLOSE_RETRY", "FIRST_CHECK", "MAX_CHECK_GAP", "check_delay", "next_check"]

#: How long after an order starts paying it is first queried.
FIRST_CHECK = timedelta(seconds=10)
#: The longest gap between two queries of one PAYING order.
MAX_CHECK_GAP = timedelta(minutes=10)
#: How long an expired order's close stays claimed before another try (WeChat may be down).
CLOSE_RETRY = timedelta(minutes=1)


def check_delay(checks_done: int) -> timedelta:
    """The gap before the next query of an order already queried ``checks_done`` times.

    ``FIRST_CHECK × 2^checks_done``, at most :data:`MAX_CHECK_GAP`; a negative count is 0.
    """
    # The exponent is capped first: 2**64 seconds would overflow timedelta long before min().
    exponent = min(max(checks_done, 0), 16)
    gap: timedelta = FIRST_CHECK * 2**exponent
    return min(gap, MAX_CHECK_GAP)


def next_check(now: datetime, checks_done: int, expires_at: datetime) -> datetime:
    """When a PAYING order queried ``checks_done`` times (this one included) is due again.

    Never after ``expires_at``: at expiry the order is due at once, for the expiry sweep.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> next_check(t, 1, t + timedelta(hours=2)) - t
    datetime.timedelta(seconds=20)
    >>> next_check(t, 1, t + timedelta(seconds=5)) - t
    datetime.timedelta(seconds=5)
    """
    return min(now + check_delay(checks_done), expires_at)
