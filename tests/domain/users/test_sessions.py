"""Sessions: opened at login, found by token, refused when unknown, expired or malformed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Conflict, Unauthenticated
from paydesk.domain.users.people import remember_user
from paydesk.domain.users.sessions import (
    authenticate,
    find_session,
    open_session,
    sessions_in_database,
)
from paydesk.domain.users.tokens import TOKEN_PREFIX
from tests.domain.users.support import UserStacks
from tests.stack import MINI_APPID, Stack

pytestmark = pytest.mark.backends


async def test_a_session_is_found_by_its_token_until_it_expires(stacks: UserStacks) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    stack = await stacks.build(clock=clock)
    user = await remember_user(
        stack.services.db,
        appid=MINI_APPID,
        openid="oUser0001",
        unionid="oUnion0001",
        ids=stack.services.ids,
        now=clock.now(),
    )
    token = TOKEN_PREFIX + "T" * 52
    opened = await open_session(stack.services, user, token=token, session_key="c2VjcmV0")
    assert opened.user_id == user.id
    assert (opened.appid, opened.openid) == (MINI_APPID, "oUser0001")
    assert opened.session_key == "c2VjcmV0"
    assert "c2VjcmV0" not in repr(opened)
    ttl = stack.services.settings.session_ttl_seconds
    assert (opened.expires_at - clock.now()).total_seconds() == ttl
    assert await authenticate(stack.services, token) == opened
    clock.advance(ttl - 1)
    assert await find_session(stack.services, token) == opened
    clock.advance(1)
    assert await find_session(stack.services, token) is None
    with pytest.raises(Unauthenticated) as raised:
        await authenticate(stack.services, token)
    assert raised.value.code == "invalid_session"
    with pytest.raises(Conflict):  # a late duplicate of an ended session
        await open_session(stack.services, user, token=token, session_key="b3RoZXI=")


async def test_opening_the_same_token_twice_returns_the_live_session(users: Stack) -> None:
    user = await remember_user(
        users.services.db,
        appid=MINI_APPID,
        openid="oUser0002",
        unionid=None,
        ids=users.services.ids,
        now=users.services.clock.now(),
    )
    token = TOKEN_PREFIX + "D" * 52
    first = await open_session(users.services, user, token=token, session_key="a2V5MQ==")
    second = await open_session(users.services, user, token=token, session_key="a2V5Mg==")
    assert second == first
    assert second.session_key == "a2V5MQ=="


@pytest.mark.parametrize(
    "token", ["", "pdk_" + "A" * 52, TOKEN_PREFIX + "A" * 200, TOKEN_PREFIX + "unknown"]
)
async def test_malformed_and_unknown_tokens_are_unauthenticated(users: Stack, token: str) -> None:
    assert await find_session(users.services, token) is None
    with pytest.raises(Unauthenticated):
        await authenticate(users.services, token)


async def test_the_store_follows_the_configuration(users: Stack, redis_url: str | None) -> None:
    assert sessions_in_database(users.services) is (redis_url is None)
