"""Fixtures for the users domain tests: a user stack (the sandbox as WeChat, the run's
database, and Redis on the postgresql backend) and a count of the codes WeChat exchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.domain.users.support import UserStacks, count_code_exchanges
from tests.stack import Stack, StackFactory


@pytest.fixture
def exchanges(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every code the sandbox's ``jscode2session`` receives."""
    return count_code_exchanges(monkeypatch)


@pytest.fixture
async def stacks(
    make_stack: StackFactory, redis_url: str | None, redis_prefix: str, exchanges: list[str]
) -> AsyncIterator[UserStacks]:
    """Builds user stacks; their caches are closed after the test."""
    async with UserStacks(make_stack, redis_url, redis_prefix) as built:
        yield built


@pytest.fixture
async def users(stacks: UserStacks) -> Stack:
    """The default user stack."""
    return await stacks.build()
