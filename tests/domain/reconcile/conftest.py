"""Fixtures for reconciliation: paydesk and the sandbox on one clock (``world``, their stack, is
``tests/stack.py``'s), at 10:00 Beijing today."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from paydesk.domain.clock import FixedClock
from paydesk.protocol.times import BEIJING


@pytest.fixture
def clock() -> FixedClock:
    """10:00 in Beijing on today's Beijing date: every trade of a test falls on one bill day."""
    today = datetime.now(UTC).astimezone(BEIJING).date()
    return FixedClock(datetime.combine(today, time(10), tzinfo=BEIJING).astimezone(UTC))
