"""Fixtures for sweep tests: one pinned clock for paydesk and the sandbox (``world``, their
stack, is ``tests/stack.py``'s)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paydesk.domain.clock import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    # Today, not a constant: the sandbox's certificates are valid from the moment they were made.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))
