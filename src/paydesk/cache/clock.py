"""The two time sources the in-process stores use, both injectable for tests.

An absolute instant (when a session or a token expires) is read from a :data:`Clock`, an
aware UTC datetime, so it compares with what the database stores. A duration (a lock's ``ttl``,
a rate-limit window, a value's TTL) is measured on a :data:`Timer`, monotonic seconds, so a
wall-clock jump cannot release a lock early. Redis measures durations on its own server clock.

>>> utc_now().tzinfo
datetime.timezone.utc
>>> monotonic() <= monotonic()
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "Timer", "monotonic", "utc_now"]

#: Returns the current time as an aware UTC datetime.
Clock = Callable[[], datetime]
#: Returns monotonic seconds (only differences mean anything).
Timer = Callable[[], float]


def utc_now() -> datetime:
    """The default :data:`Clock`: the system's wall clock, aware, in UTC."""
    return datetime.now(UTC)


def monotonic() -> float:
    """The default :data:`Timer`: :func:`time.monotonic`."""
    return time.monotonic()
