"""Fixtures for sweep tests: one pinned clock for paydesk and the sandbox, and their stack."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paydesk.domain.clock import FixedClock
from tests.stack import Stack, StackFactory


@pytest.fixture
def clock() -> FixedClock:
    # Today, not a constant: the sandbox's certificates are valid from the moment they were made.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def world(make_stack: StackFactory, clock: FixedClock) -> Stack:
    """The stack with paydesk and the sandbox both on ``clock``."""
    return await make_stack(clock=clock)
