"""Fixtures for the mini program user's tests, domain and API alike (a plugin of
``tests/conftest.py``): user stacks and a record of the codes WeChat exchanged.

A module that wants every test on a user stack under another name overrides that fixture
with one that returns ``users``.
"""

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
    """Builds user stacks; their caches are closed after the test. Depends on ``exchanges``
    because the sandbox binds its routes when a stack is built: the count must be on first."""
    async with UserStacks(make_stack, redis_url, redis_prefix) as built:
        yield built


@pytest.fixture
async def users(stacks: UserStacks) -> Stack:
    """The default user stack."""
    return await stacks.build()
