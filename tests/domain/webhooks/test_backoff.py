"""The retry schedule as a table: exponential from 10 s, capped at 1 h, ± jitter, 24 h window."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest

from paydesk.domain.webhooks.backoff import (
    DEFAULT_POLICY,
    GiveUp,
    RetryAt,
    RetryPolicy,
    backoff_delay,
    next_attempt,
)
from tests.domain.webhooks.world import T0


class PinnedRandom(random.Random):
    """``random()`` always returns ``value``, so ``uniform(-1, 1) == 2 * value - 1``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


MIDDLE = PinnedRandom(0.5)  # uniform(-1, 1) = 0: no jitter
LOW = PinnedRandom(0.0)  # uniform(-1, 1) = -1: the full -10 %
HIGH = PinnedRandom(1.0)  # uniform(-1, 1) = +1: the full +10 %


@pytest.mark.parametrize(
    ("attempt", "rng", "expected"),
    [
        (1, MIDDLE, 10.0),  # 10 * 2**0
        (2, MIDDLE, 20.0),  # 10 * 2**1
        (3, MIDDLE, 40.0),  # 10 * 2**2
        (6, MIDDLE, 320.0),  # 10 * 2**5
        (9, MIDDLE, 2560.0),  # 10 * 2**8
        (10, MIDDLE, 3600.0),  # 10 * 2**9 = 5120, capped at 3600
        (30, MIDDLE, 3600.0),  # far past the cap
        (10_000, MIDDLE, 3600.0),  # exponent clamped: no float overflow
        (1, LOW, 9.0),  # 10 * (1 - 0.1)
        (1, HIGH, 11.0),  # 10 * (1 + 0.1)
        (4, LOW, 72.0),  # 80 * 0.9
        (4, HIGH, 88.0),  # 80 * 1.1
        (9, HIGH, 2816.0),  # 2560 * 1.1, still under the cap
        (10, LOW, 3240.0),  # 3600 * 0.9: at the cap jitter only shortens
        (10, HIGH, 3600.0),  # 3600 * 1.1 = 3960, capped again at 3600
        (4, PinnedRandom(0.75), 84.0),  # uniform = 0.5: 80 * (1 + 0.1 * 0.5)
    ],
)
def test_backoff_delay(attempt: int, rng: random.Random, expected: float) -> None:
    assert backoff_delay(attempt, rng) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("policy", "attempt", "rng", "expected"),
    [
        (RetryPolicy(first_delay=1, max_delay=60, jitter=0), 7, MIDDLE, 60.0),  # 64 → 60
        (RetryPolicy(first_delay=1, max_delay=60, jitter=0), 6, MIDDLE, 32.0),  # 1 * 2**5
        (RetryPolicy(jitter=0.5), 2, LOW, 10.0),  # 20 * (1 - 0.5)
        (RetryPolicy(jitter=0.0), 3, HIGH, 40.0),  # no jitter whatever the rng says
    ],
)
def test_backoff_delay_with_other_policies(
    policy: RetryPolicy, attempt: int, rng: random.Random, expected: float
) -> None:
    assert backoff_delay(attempt, rng, policy) == pytest.approx(expected)


def test_real_jitter_stays_in_its_band() -> None:
    rng = random.Random(42)
    delays = [backoff_delay(5, rng) for _ in range(500)]  # 10 * 2**4 = 160 s
    assert min(delays) >= 144.0  # 160 * 0.9
    assert max(delays) <= 176.0  # 160 * 1.1
    assert len(set(delays)) > 400  # actually spread out


@pytest.mark.parametrize(
    ("elapsed", "attempt", "expected"),
    [
        (timedelta(0), 1, RetryAt(T0 + timedelta(seconds=10))),
        (timedelta(minutes=5), 4, RetryAt(T0 + timedelta(minutes=5, seconds=80))),
        # 23 h 30 min in, the hour-long wait would overshoot: the last try lands on the deadline.
        (timedelta(hours=23, minutes=30), 30, RetryAt(T0 + timedelta(hours=24))),
        (timedelta(hours=23, minutes=59, seconds=50), 31, RetryAt(T0 + timedelta(hours=24))),
        # The try at the deadline failed: give up.
        (timedelta(hours=24), 32, GiveUp(T0 + timedelta(hours=24))),
        (timedelta(hours=30), 2, GiveUp(T0 + timedelta(hours=24))),
    ],
)
def test_next_attempt(elapsed: timedelta, attempt: int, expected: RetryAt | GiveUp) -> None:
    decision = next_attempt(attempt=attempt, window_start=T0, now=T0 + elapsed, rng=MIDDLE)
    assert decision == expected


def test_the_default_schedule_keeps_trying_for_a_full_day() -> None:
    now, attempt, tries = T0, 1, [T0]
    while isinstance(
        decision := next_attempt(attempt=attempt, window_start=T0, now=now, rng=LOW), RetryAt
    ):
        now, attempt = decision.when, attempt + 1
        tries.append(now)
    assert tries[-1] == T0 + DEFAULT_POLICY.max_age  # the last try is at the 24 h mark
    assert decision == GiveUp(T0 + timedelta(hours=24))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(tries)]
    assert gaps[:3] == [9.0, 18.0, 36.0]  # 10, 20, 40 minus 10 % jitter
    assert max(gaps) == 3240.0  # 3600 - 10 %
    # 9+18+36+…+2304 = 4599 s in the first 9 gaps, then (86400 - 4599) / 3240 = 25.2 more.
    assert len(tries) == 36


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first_delay": 0},
        {"first_delay": 100, "max_delay": 10},
        {"jitter": -0.1},
        {"jitter": 1.0},
        {"max_age": timedelta(0)},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0, MIDDLE)
