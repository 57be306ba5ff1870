"""Users: one row per (app, openid), created at first login, unionid kept current."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from paydesk.db.models import User
from paydesk.domain.errors import Conflict, NotFound
from paydesk.domain.users import people
from paydesk.domain.users.people import get_user, remember_user, user_view
from tests.stack import MINI_APPID, OA_APPID, Stack

pytestmark = pytest.mark.backends


async def remember(stack: Stack, openid: str, unionid: str | None, appid: str = MINI_APPID) -> User:
    return await remember_user(
        stack.services.db,
        appid=appid,
        openid=openid,
        unionid=unionid,
        ids=stack.services.ids,
        now=stack.services.clock.now(),
    )


async def count(stack: Stack) -> int:
    async with stack.services.db() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def test_a_user_is_created_once_and_its_unionid_kept_current(users: Stack) -> None:
    first = await remember(users, "oA", None)
    assert first.id.startswith("usr_")
    again = await remember(users, "oA", "oUnionA")
    assert again.id == first.id
    assert again.unionid == "oUnionA"
    unchanged = await remember(users, "oA", None)  # WeChat said nothing: keep what we know
    assert unchanged.unionid == "oUnionA"
    assert (await get_user(users.services.db, first.id)).unionid == "oUnionA"
    elsewhere = await remember(users, "oA", "oUnionA", appid=OA_APPID)
    assert elsewhere.id != first.id
    assert await count(users) == 2


async def test_concurrent_first_logins_make_one_user(users: Stack) -> None:
    made = await asyncio.gather(*(remember(users, "oSame", "oU") for _ in range(10)))
    assert len({user.id for user in made}) == 1
    assert await count(users) == 1


async def test_an_unknown_user_is_not_found(users: Stack) -> None:
    with pytest.raises(NotFound):
        await get_user(users.services.db, "usr_missing")


async def test_the_view_shows_ids_only(users: Stack) -> None:
    user = await remember(users, "oV", "oUV")
    assert user_view(user) == {"id": user.id, "appid": MINI_APPID, "openid": "oV", "unionid": "oUV"}


async def test_a_lost_insert_race_is_read_back_and_a_second_loss_is_a_conflict(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_upsert = people._upsert
    calls: list[str] = []

    async def racing(*args: Any) -> User:
        calls.append("try")
        if len(calls) == 1:
            await real_upsert(*args)  # the "other" login inserts the row …
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))  # … and we lose
        return await real_upsert(*args)

    monkeypatch.setattr(people, "_upsert", racing)
    user = await remember(users, "oRace", None)
    assert calls == ["try", "try"]
    assert await count(users) == 1
    assert (await get_user(users.services.db, user.id)).openid == "oRace"

    async def always_losing(*args: Any) -> User:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(people, "_upsert", always_losing)
    with pytest.raises(Conflict) as raised:
        await remember(users, "oRace", None)
    assert raised.value.code == "user_conflict"
