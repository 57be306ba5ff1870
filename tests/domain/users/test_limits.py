"""Rate limits: exactly ``limit`` hits per window and key, then RateLimited with Retry-After."""

from __future__ import annotations

import pytest

from paydesk.domain.errors import RateLimited
from paydesk.domain.users.limits import (
    LOGIN_PER_CLIENT,
    LOGIN_PER_CODE,
    PAY_PER_USER,
    SYNC_PER_ORDER,
    Limit,
    enforce,
)
from tests.stack import Stack

pytestmark = pytest.mark.backends


async def test_a_limit_allows_exactly_its_hits_per_key(users: Stack) -> None:
    limit = Limit(3, 60.0, "tries")
    for _ in range(3):
        await enforce(users.services, "k1", limit)
    with pytest.raises(RateLimited) as raised:
        await enforce(users.services, "k1", limit)
    assert raised.value.code == "rate_limited"
    assert raised.value.status == 429
    assert 1 <= raised.value.details["retry_after"] <= 60
    assert "too many tries" in raised.value.message
    await enforce(users.services, "k2", limit)  # another key has its own window


def test_the_defaults_leave_room_for_honest_clients() -> None:
    # Ten concurrent submissions of one code (a double-tapping user, a retrying client) pass.
    assert LOGIN_PER_CODE.limit >= 10
    # A carrier NAT puts many users behind one address.
    assert LOGIN_PER_CLIENT.limit >= 20
    assert PAY_PER_USER.limit >= 5
    assert SYNC_PER_ORDER.limit >= 10
    assert all(
        limit.window_seconds == 60.0
        for limit in (LOGIN_PER_CLIENT, LOGIN_PER_CODE, PAY_PER_USER, SYNC_PER_ORDER)
    )
