"""When to try a failed webhook delivery again — a pure decision, tested as a table.

The wait after the n-th failed attempt doubles from 10 s and is capped at one hour, with a
± jitter (10 % by default) drawn from an injected :class:`random.Random` so that endpoints
coming back from an outage are not hit by every retry at once::

    >>> policy = RetryPolicy(jitter=0.0)
    >>> [backoff_delay(n, random.Random(0), policy) for n in (1, 2, 3, 9, 10)]
    [10.0, 20.0, 40.0, 2560.0, 3600.0]

A delivery keeps being retried until ``max_age`` (24 h) after its retry window opened (when the
event was fanned out, or when it was last resent by hand). The last try is pulled in to land
exactly on that deadline, so the endpoint is tried for the full 24 h; when the try *at* the
deadline fails too, the delivery is dead-lettered (``DEAD``), to be resent by hand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["DEFAULT_POLICY", "GiveUp", "RetryAt", "RetryPolicy", "backoff_delay", "next_attempt"]

# 2**32 * 10 s is far past any cap; stop doubling there so huge attempt counts cannot overflow.
_MAX_EXPONENT = 32


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How long to wait between tries and when to give up.

    >>> RetryPolicy().max_age
    datetime.timedelta(days=1)
    """

    first_delay: float = 10.0  #: seconds after the first failed attempt
    max_delay: float = 3600.0  #: no wait is ever longer than this (seconds)
    jitter: float = 0.1  #: each wait is scaled by a random factor in [1 - jitter, 1 + jitter]
    max_age: timedelta = timedelta(hours=24)  #: retry window, from fan-out or manual resend

    def __post_init__(self) -> None:
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError("need 0 < first_delay <= max_delay")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive")


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class RetryAt:
    """Try again at ``when``.

    >>> from datetime import UTC
    >>> RetryAt(datetime(2024, 5, 1, tzinfo=UTC)).when.year
    2024
    """

    when: datetime


@dataclass(frozen=True)
class GiveUp:
    """The retry window closed at ``deadline``: dead-letter the delivery.

    >>> from datetime import UTC
    >>> GiveUp(datetime(2024, 5, 2, tzinfo=UTC)).deadline.day
    2
    """

    deadline: datetime


def backoff_delay(attempt: int, rng: random.Random, policy: RetryPolicy = DEFAULT_POLICY) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first try).

    ``first_delay * 2 ** (attempt - 1)``, capped at ``max_delay``, then scaled by a jitter
    factor ``1 + jitter * u`` with ``u = rng.uniform(-1, 1)``, and capped again (so at the cap
    the jitter only ever shortens the wait).

    >>> backoff_delay(4, random.Random(7), RetryPolicy(jitter=0.0))
    80.0
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    exponent = min(attempt - 1, _MAX_EXPONENT)
    base = min(policy.first_delay * 2.0**exponent, policy.max_delay)
    jittered = base * (1 + policy.jitter * rng.uniform(-1.0, 1.0))
    return min(jittered, policy.max_delay)


def next_attempt(
    *,
    attempt: int,
    window_start: datetime,
    now: datetime,
    rng: random.Random,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> RetryAt | GiveUp:
    """What to do after failed attempt number ``attempt``, made at ``now``.

    >>> from datetime import UTC
    >>> start = datetime(2024, 5, 1, tzinfo=UTC)
    >>> next_attempt(attempt=1, window_start=start, now=start, rng=random.Random(1),
    ...              policy=RetryPolicy(jitter=0.0))
    RetryAt(when=datetime.datetime(2024, 5, 1, 0, 0, 10, tzinfo=datetime.timezone.utc))
    """
    deadline = window_start + policy.max_age
    if now >= deadline:
        return GiveUp(deadline)
    when = now + timedelta(seconds=backoff_delay(attempt, rng, policy))
    return RetryAt(min(when, deadline))
