"""Fixtures for worker tests: a fixed clock, reproducible ids, a session factory."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paydesk.db.engine import session_factory
from paydesk.domain.clock import FixedClock
from paydesk.domain.ids import IdSource
from tests.domain.webhooks.world import T0, reproducible_ids


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ids(clock: FixedClock) -> IdSource:
    return reproducible_ids(clock)


@pytest.fixture
def db(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db_engine)
