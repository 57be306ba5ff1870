"""The service's clock: one injectable ``now()``, always an aware UTC datetime.

>>> from datetime import datetime, timezone
>>> fixed = FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> fixed.advance(60).now().minute
1
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """The pinned time."""
        return self._now

    def advance(self, seconds: float) -> FixedClock:
        """Move forward by ``seconds``; returns itself for chaining."""
        self._now += timedelta(seconds=seconds)
        return self
