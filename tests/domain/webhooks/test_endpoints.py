"""Endpoints: a secret shown once, rotation with two active secrets, disable, list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.models import WebhookEndpoint
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import InvalidInput, NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.webhooks import (
    SECRET_PREFIX,
    add_endpoint,
    disable_endpoint,
    enable_endpoint,
    get_endpoint,
    list_endpoints,
    retire_old_secret,
    rotate_secret,
)
from tests.domain.webhooks.world import MCHID, OTHER_MCHID, T0, URL, new_endpoint

pytestmark = pytest.mark.backends


async def _stored(db: async_sessionmaker[AsyncSession], endpoint_id: str) -> WebhookEndpoint:
    async with db() as session:
        return await get_endpoint(session, endpoint_id)


async def test_add_endpoint_returns_its_only_secret(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint_id, secret = await new_endpoint(db, ids=ids, clock=clock, url=f"  {URL} ")
    assert secret.startswith(SECRET_PREFIX)
    assert len(secret) == len(SECRET_PREFIX) + 39  # 192 bits in base32
    stored = await _stored(db, endpoint_id)
    assert endpoint_id.startswith("whe_")
    assert (stored.mchid, stored.url, stored.secrets, stored.enabled) == (
        MCHID,
        URL,
        [secret],
        True,
    )
    assert stored.created_at == T0


async def test_secrets_differ_between_endpoints(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    _, first = await new_endpoint(db, ids=ids, clock=clock)
    _, second = await new_endpoint(db, ids=ids, clock=clock)
    assert first != second


@pytest.mark.parametrize(
    ("mchid", "url", "code"),
    [
        (MCHID, "ftp://shop.example/hooks", "invalid_url"),
        (MCHID, "/relative/path", "invalid_url"),
        (MCHID, "https://", "invalid_url"),
        (MCHID, "https://shop.example/" + "x" * 2048, "invalid_url"),
        ("", URL, "invalid_mchid"),
        ("1" * 33, URL, "invalid_mchid"),
    ],
)
async def test_add_endpoint_refuses_bad_input(
    db: async_sessionmaker[AsyncSession], ids: IdSource, mchid: str, url: str, code: str
) -> None:
    async with db.begin() as session:
        with pytest.raises(InvalidInput) as caught:
            await add_endpoint(session, mchid=mchid, url=url, ids=ids, now=T0)
    assert caught.value.code == code


async def test_rotation_keeps_two_secrets_newest_first(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint_id, first = await new_endpoint(db, ids=ids, clock=clock)
    async with db.begin() as session:
        second = await rotate_secret(session, endpoint_id, ids=ids)
    assert (await _stored(db, endpoint_id)).secrets == [second, first]
    async with db.begin() as session:
        third = await rotate_secret(session, endpoint_id, ids=ids)
    assert len({first, second, third}) == 3
    assert (await _stored(db, endpoint_id)).secrets == [third, second]  # never more than two
    async with db.begin() as session:
        await retire_old_secret(session, endpoint_id)
    assert (await _stored(db, endpoint_id)).secrets == [third]
    async with db.begin() as session:
        await retire_old_secret(session, endpoint_id)  # retiring again changes nothing
    assert (await _stored(db, endpoint_id)).secrets == [third]


async def test_disable_and_enable(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    endpoint_id, _ = await new_endpoint(db, ids=ids, clock=clock)
    async with db.begin() as session:
        await disable_endpoint(session, endpoint_id)
    assert (await _stored(db, endpoint_id)).enabled is False
    async with db.begin() as session:
        await enable_endpoint(session, endpoint_id)
    assert (await _stored(db, endpoint_id)).enabled is True


async def test_list_endpoints_oldest_first_and_by_merchant(
    db: async_sessionmaker[AsyncSession], ids: IdSource, clock: FixedClock
) -> None:
    first, _ = await new_endpoint(db, ids=ids, clock=clock)
    other, _ = await new_endpoint(db, ids=ids, clock=clock.advance(1), mchid=OTHER_MCHID)
    second, _ = await new_endpoint(db, ids=ids, clock=clock.advance(1))
    async with db() as session:
        assert [e.id for e in await list_endpoints(session)] == [first, other, second]
        assert [e.id for e in await list_endpoints(session, mchid=MCHID)] == [first, second]
        assert await list_endpoints(session, mchid="1900000009") == []


MISSING = "whe_missing"
ACTIONS: dict[str, Callable[[AsyncSession, IdSource], Awaitable[object]]] = {
    "get": lambda session, _: get_endpoint(session, MISSING),
    "rotate": lambda session, ids: rotate_secret(session, MISSING, ids=ids),
    "retire": lambda session, _: retire_old_secret(session, MISSING),
    "disable": lambda session, _: disable_endpoint(session, MISSING),
    "enable": lambda session, _: enable_endpoint(session, MISSING),
}


@pytest.mark.parametrize("action", ACTIONS)
async def test_unknown_endpoint_is_not_found(
    db: async_sessionmaker[AsyncSession], ids: IdSource, action: str
) -> None:
    async with db.begin() as session:
        with pytest.raises(NotFound) as caught:
            await ACTIONS[action](session, ids)
    assert caught.value.code == "endpoint_not_found"
