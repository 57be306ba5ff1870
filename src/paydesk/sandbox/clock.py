"""The sandbox's two clocks: the wall clock for signatures, and virtual time for everything else.

Signatures (``Wechatpay-Timestamp``, the merchant's ``Authorization`` timestamp check) always use
the wall clock, because the merchant's code checks them against its own clock. Everything the
sandbox *schedules* — notification retries, code and token expiry, order expiry, refund
processing — runs on virtual time, which can run ``speed`` times faster or jump ahead::

    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> clock = SandboxClock(wall=lambda: t0)
    >>> clock.advance(90)
    >>> clock.now() - t0
    datetime.timedelta(seconds=90)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real wall clock, as an aware UTC datetime."""
    return datetime.now(UTC)


class SandboxClock:
    """Virtual time: ``speed`` × the wall clock since the last anchor, plus any jumps."""

    def __init__(self, wall: WallClock = utc_now, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._wall = wall
        self._speed = speed
        self._anchor_wall = wall()
        self._anchor_virtual = self._anchor_wall

    @property
    def speed(self) -> float:
        """How many virtual seconds pass per wall second."""
        return self._speed

    def wall(self) -> datetime:
        """The wall clock: use it for signature timestamps only."""
        return self._wall()

    def now(self) -> datetime:
        """Virtual now."""
        elapsed = (self._wall() - self._anchor_wall).total_seconds()
        return self._anchor_virtual + timedelta(seconds=elapsed * self._speed)

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on (virtual time does not jump)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._anchor_virtual = self.now()
        self._anchor_wall = self._wall()
        self._speed = speed

    def advance(self, seconds: float) -> None:
        """Jump virtual time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("virtual time only moves forward")
        self._anchor_virtual += timedelta(seconds=seconds)

    def wall_seconds_until(self, when: datetime) -> float:
        """Real seconds to wait until virtual time reaches ``when`` (0 if already past)."""
        return max(0.0, (when - self.now()).total_seconds() / self._speed)
