"""Sessions by token hash: the ``sessions`` table without Redis, Redis with it — same answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from paydesk.cache import (
    Cache,
    CorruptEntry,
    DatabaseSessionStore,
    DuplicateSession,
    NewSession,
    SessionRecord,
)
from paydesk.cache.sessions import decode_session
from paydesk.db.engine import session_factory
from paydesk.db.models import User, UserSession
from tests.cache.replicas import MakeCache

pytestmark = pytest.mark.backends

T0 = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
OTHER_HASH = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def user(db_session: AsyncSession) -> User:
    row = User(
        id="usr_1", appid="wx5a0d5a0d00000001", openid="o-payer-1", unionid=None,
        created_at=T0, updated_at=T0,
    )  # fmt: skip
    async with db_session.begin():
        db_session.add(row)
    return row


def new_session(user: User, **overrides: object) -> NewSession:
    fields: dict[str, object] = {
        "session_id": "ses_1",
        "user_id": user.id,
        "appid": user.appid,
        "openid": user.openid,
        "token_hash": HASH,
        "session_key": "tiihtNczf5v6AKRyjwEUhQ==",
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=1),
    }
    return NewSession(**(fields | overrides))  # type: ignore[arg-type]


@pytest.fixture
async def replicas(make_cache: MakeCache, db_engine: AsyncEngine, clock: Clock) -> list[Cache]:
    database = session_factory(db_engine)
    return [await make_cache(database=database, clock=clock) for _ in range(2)]


async def test_a_created_session_is_found_by_its_token_hash(
    replicas: list[Cache], user: User
) -> None:
    first, second = replicas
    new = new_session(user)

    created = await first.sessions.create(new)

    assert created == new.record()
    assert await second.sessions.get(HASH) == SessionRecord(
        "ses_1", "usr_1", user.appid, user.openid, new.session_key, T0 + timedelta(hours=1)
    )
    assert await second.sessions.get(OTHER_HASH) is None


async def test_a_session_ends_at_its_expiry(
    replicas: list[Cache], user: User, clock: Clock
) -> None:
    first, second = replicas
    await first.sessions.create(new_session(user))

    clock.now = T0 + timedelta(minutes=59, seconds=59)
    assert await second.sessions.get(HASH) is not None
    clock.now = T0 + timedelta(hours=1)
    assert await second.sessions.get(HASH) is None


async def test_a_revoked_session_is_gone_for_every_replica(
    replicas: list[Cache], user: User
) -> None:
    first, second = replicas
    await first.sessions.create(new_session(user))
    await first.sessions.create(new_session(user, session_id="ses_2", token_hash=OTHER_HASH))

    await second.sessions.revoke(HASH)
    await second.sessions.revoke(HASH)  # twice: nothing more happens

    assert await first.sessions.get(HASH) is None
    assert await first.sessions.get(OTHER_HASH) is not None


async def test_revoking_an_unknown_session_does_nothing(replicas: list[Cache]) -> None:
    await replicas[0].sessions.revoke(HASH)

    assert await replicas[1].sessions.get(HASH) is None


async def test_a_token_hash_is_never_reused(replicas: list[Cache], user: User) -> None:
    first, second = replicas
    await first.sessions.create(new_session(user))

    with pytest.raises(DuplicateSession, match="9f86d081…"):
        await second.sessions.create(new_session(user, session_id="ses_2"))

    assert (await first.sessions.get(HASH) or pytest.fail("session lost")).session_id == "ses_1"


async def test_the_table_keeps_a_revoked_session_with_its_revocation_time(
    db_engine: AsyncEngine, db_session: AsyncSession, user: User, clock: Clock
) -> None:
    store = DatabaseSessionStore(session_factory(db_engine), clock=clock)
    await store.create(new_session(user))
    clock.now = T0 + timedelta(minutes=5)

    await store.revoke(HASH)
    clock.now = T0 + timedelta(minutes=10)
    await store.revoke(HASH)  # the first revocation time stays

    row = await db_session.scalar(select(UserSession).where(UserSession.token_hash == HASH))
    assert row is not None
    assert row.revoked_at == T0 + timedelta(minutes=5)


async def test_the_table_lets_other_integrity_errors_through(
    db_engine: AsyncEngine, user: User, clock: Clock
) -> None:
    store = DatabaseSessionStore(session_factory(db_engine), clock=clock)
    await store.create(new_session(user))

    with pytest.raises(IntegrityError):  # same session id, another hash: a caller's bug
        await store.create(new_session(user, token_hash=OTHER_HASH))
    with pytest.raises(IntegrityError):  # no such user
        await store.create(
            new_session(user, session_id="ses_3", token_hash="0" * 64, user_id="usr_missing")
        )


def test_session_times_must_be_aware(user: User) -> None:
    with pytest.raises(ValueError, match="expires_at must be an aware datetime"):
        new_session(user, expires_at=datetime(2024, 5, 1, 5, 0))


def test_the_session_key_stays_out_of_repr(user: User) -> None:
    new = new_session(user)

    assert new.session_key not in repr(new)
    assert new.session_key not in repr(new.record())


def test_a_stored_session_round_trips_and_a_corrupt_one_is_refused() -> None:
    good = (
        '{"session_id": "ses_1", "user_id": "usr_1", "appid": "wx1", "openid": "o-1",'
        ' "session_key": "k==", "expires_at": "2024-05-01T05:00:00+00:00"}'
    )
    assert decode_session(good, "s") == SessionRecord(
        "ses_1", "usr_1", "wx1", "o-1", "k==", T0 + timedelta(hours=1)
    )
    corrupt = [
        "[]",
        good.replace('"session_id": "ses_1", ', ""),
        good.replace('"ses_1"', "1"),
        good.replace('"k=="', "null"),
        good.replace("2024-05-01T05:00:00+00:00", "yesterday"),
        good.replace("+00:00", ""),
    ]
    for raw in corrupt:
        with pytest.raises(CorruptEntry):
            decode_session(raw, "s")
    assert replace(decode_session(good, "s"), appid="wx2").appid == "wx2"
