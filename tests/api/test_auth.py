"""Mini program login: ``POST /api/v1/auth/miniprogram`` and the user's session token."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from paydesk.api.deps_user import current_user, forwarded_client
from paydesk.db.enums import LoginCodeState
from paydesk.db.models import LoginCode, UserSession
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Unauthenticated
from paydesk.domain.users import limits
from paydesk.domain.users.limits import Limit
from paydesk.domain.users.sessions import sessions_in_database
from paydesk.domain.users.tokens import digest
from tests.domain.users.support import (
    UserStacks,
    add_fault,
    clear_faults,
    log_in,
    login_code,
    submit_code,
)
from tests.stack import MINI_APPID, OA_APPID, Stack

pytestmark = pytest.mark.backends


async def test_a_login_code_becomes_a_session_and_a_user(
    users: Stack, exchanges: list[str]
) -> None:
    issued = await login_code(users)
    before = datetime.now(UTC)
    response = await submit_code(users, issued["code"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["token"].startswith("pds_")
    assert body["user"]["id"].startswith("usr_")
    assert body["user"]["appid"] == MINI_APPID
    assert body["user"]["openid"] == issued["openid"]
    assert body["user"]["unionid"] == issued["unionid"]
    expires_at = datetime.fromisoformat(body["expires_at"])
    ttl = timedelta(seconds=users.services.settings.session_ttl_seconds)
    assert before + ttl - timedelta(seconds=5) <= expires_at <= datetime.now(UTC) + ttl
    assert exchanges == [issued["code"]]
    record = await users.services.cache.sessions.get(digest(body["token"]))
    assert record is not None
    assert record.user_id == body["user"]["id"]
    assert len(record.session_key) >= 16
    assert record.session_key not in response.text
    # The token works: the user's request is authenticated (404: no such order, not 401).
    headers = {"Authorization": f"Bearer {body['token']}"}
    read = await users.api.get("/api/v1/orders/ord_missing", headers=headers)
    assert read.status_code == 404, read.text
    assert record.session_key not in read.text


async def test_the_same_code_twice_gives_the_same_session(
    users: Stack, exchanges: list[str]
) -> None:
    code = (await login_code(users))["code"]
    first = await submit_code(users, code)
    second = await submit_code(users, code)
    assert first.status_code == second.status_code == 200, second.text
    assert first.json() == second.json()
    assert exchanges == [code]


async def test_ten_concurrent_submissions_share_one_exchange(
    users: Stack, exchanges: list[str]
) -> None:
    code = (await login_code(users))["code"]
    responses = await asyncio.gather(*(submit_code(users, code) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert len({r.json()["token"] for r in responses}) == 1
    assert len({r.json()["user"]["id"] for r in responses}) == 1
    assert exchanges == [code]
    async with users.services.db() as session:
        claim = await session.scalar(select(LoginCode).where(LoginCode.appid == MINI_APPID))
        sessions = await session.scalar(select(func.count()).select_from(UserSession))
    assert claim is not None
    assert claim.state == LoginCodeState.DONE
    assert sessions == (1 if sessions_in_database(users.services) else 0)
    record = await users.services.cache.sessions.get(digest(responses[0].json()["token"]))
    assert record is not None
    assert all(record.session_key not in r.text for r in responses)
    if sessions_in_database(users.services):
        assert claim.session_id == record.session_id


async def test_two_logins_of_one_person_are_one_user_with_two_sessions(users: Stack) -> None:
    first = await log_in(users)
    second = await log_in(users, openid=first.user["openid"])
    assert second.user == first.user
    assert second.token != first.token


async def test_a_code_wechat_refuses_is_a_400_and_stays_refused(
    users: Stack, exchanges: list[str]
) -> None:
    first = await submit_code(users, "not-a-real-code")
    assert first.status_code == 400, first.text
    error = first.json()["error"]
    assert error["code"] == "login_code_rejected"
    assert "40029" in error["message"]
    assert "wx.login" in error["message"]
    second = await submit_code(users, "not-a-real-code")
    assert second.status_code == 400
    assert second.json()["error"]["message"] == error["message"]
    assert exchanges == ["not-a-real-code"]


async def test_a_code_spent_elsewhere_is_a_40163_refusal(users: Stack) -> None:
    issued = await login_code(users)
    app = users.services.wechat.app(MINI_APPID)
    await users.services.wechat.login.code_to_session(app, issued["code"])
    response = await submit_code(users, issued["code"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "login_code_rejected"
    assert "40163" in error["message"]
    assert "already used" in error["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"appid": "wx0000000000000000", "code": "c"}, 404, "app_not_found"),
        ({"appid": OA_APPID, "code": "c"}, 400, "not_a_miniprogram"),
        ({"appid": "not-an-appid", "code": "c"}, 400, "invalid_request"),
        ({"appid": MINI_APPID}, 400, "invalid_request"),
        ({"appid": MINI_APPID, "code": ""}, 400, "invalid_request"),
        ({"appid": MINI_APPID, "code": "x" * 129}, 400, "invalid_request"),
        ({"appid": MINI_APPID, "code": "has space"}, 400, "invalid_request"),
        ({"appid": MINI_APPID, "code": "c", "session_key": "k"}, 400, "invalid_request"),
    ],
)
async def test_bad_logins_get_a_precise_error_and_never_reach_wechat(
    users: Stack, exchanges: list[str], body: dict[str, str], status: int, code: str
) -> None:
    response = await users.api.post("/api/v1/auth/miniprogram", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert exchanges == []


async def test_wechat_down_releases_the_code_for_a_retry(
    users: Stack, exchanges: list[str]
) -> None:
    code = (await login_code(users))["code"]
    await add_fault(users, kind="5xx", path="/sns/jscode2session")
    failed = await submit_code(users, code)
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["code"].startswith("wechat_")
    await clear_faults(users)
    retried = await submit_code(users, code)
    assert retried.status_code == 200, retried.text
    assert exchanges == [code]  # the faulted call never reached the sandbox's handler


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic abc", "Bearer pds_unknown", "Bearer pds_" + "A" * 200],
)
async def test_requests_without_a_live_session_are_401(
    users: Stack, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await users.api.post(
        "/api/v1/orders/ord_x/pay", json={"channel": "miniprogram"}, headers=headers
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] in ("missing_credentials", "invalid_session")


async def test_a_merchant_key_cannot_pay_as_a_mini_program_user(users: Stack) -> None:
    order = await users.create_order()
    response = await users.api.post(
        f"/api/v1/orders/{order['id']}/pay",
        json={"channel": "miniprogram"},
        headers=users.merchant_headers,
    )
    # 401 (no user session) — or 400 once merchants pay their own channels on this route.
    assert response.status_code in (400, 401), response.text
    orders = await users.sandbox_client.get("/_sandbox/orders")
    assert orders.json()["orders"] == []


async def test_an_expired_session_is_401_and_its_code_cannot_revive_it(
    stacks: UserStacks,
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = await stacks.build(clock=clock)
    user = await log_in(stack)
    alive = await stack.api.get("/api/v1/orders/ord_missing", headers=user.headers)
    assert alive.status_code == 404
    clock.advance(stack.services.settings.session_ttl_seconds + 1)
    expired = await stack.api.get("/api/v1/orders/ord_missing", headers=user.headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_session"
    replayed = await submit_code(stack, user.code)
    assert replayed.status_code == 400
    assert replayed.json()["error"]["code"] == "login_code_expired"


async def test_a_replay_after_the_session_ended_is_told_to_log_in_again(users: Stack) -> None:
    user = await log_in(users)
    await users.services.cache.sessions.revoke(digest(user.token))
    replayed = await submit_code(users, user.code)
    assert replayed.status_code == 400
    assert replayed.json()["error"]["code"] == "login_code_used"
    assert "wx.login" in replayed.json()["error"]["message"]


async def test_logins_are_rate_limited_per_code(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "LOGIN_PER_CODE", Limit(2, 60.0, "submissions of this code"))
    code = (await login_code(users))["code"]
    assert (await submit_code(users, code)).status_code == 200
    assert (await submit_code(users, code)).status_code == 200
    limited = await submit_code(users, code)
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"
    other = await log_in(users)  # another code from the same address is still welcome
    assert other.token


async def test_logins_are_rate_limited_per_client_address(
    stacks: UserStacks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "LOGIN_PER_CLIENT", Limit(2, 60.0, "logins from here"))
    stack = await stacks.build(settings={"trusted_proxies": ("127.0.0.1",)})
    for address in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
        code = (await login_code(stack))["code"]
        response = await submit_code(stack, code, **{"X-Forwarded-For": address})
        assert response.status_code == 200, response.text
    code = (await login_code(stack))["code"]
    limited = await submit_code(stack, code, **{"X-Forwarded-For": "203.0.113.1"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "LOGIN_PER_CLIENT", Limit(1, 60.0, "logins from here"))
    code = (await login_code(users))["code"]
    assert (
        await submit_code(users, code, **{"X-Forwarded-For": "198.51.100.1"})
    ).status_code == 200
    code = (await login_code(users))["code"]
    spoofed = await submit_code(users, code, **{"X-Forwarded-For": "198.51.100.2"})
    assert spoofed.status_code == 429


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("10.0.0.2", "198.51.100.7, 203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9, 10.0.0.7", ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.2", "10.0.0.9, 10.0.0.7", ("10.0.0.0/8",), "10.0.0.9"),
        ("10.0.0.2", "203.0.113.9, not-an-ip", ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", "", ("10.0.0.0/8",), "10.0.0.2"),
        ("::1", "2001:db8::5", ("::1",), "2001:db8::5"),
        ("192.0.2.1", "203.0.113.9", ("10.0.0.0/8",), "192.0.2.1"),
        ("192.0.2.1", "203.0.113.9", (), "192.0.2.1"),
        ("testclient", "203.0.113.9", ("10.0.0.0/8",), "testclient"),
        (None, "203.0.113.9", ("10.0.0.0/8",), None),
    ],
)
def test_the_client_address_trusts_only_configured_proxies(
    peer: str | None, forwarded: str, trusted: tuple[str, ...], client: str | None
) -> None:
    assert forwarded_client(peer, forwarded, trusted) == client


async def test_the_current_user_dependency_accepts_only_live_sessions(users: Stack) -> None:
    user = await log_in(users)
    record = await current_user(users.services, f"Bearer {user.token}")
    assert record.user_id == user.user["id"]
    with pytest.raises(Unauthenticated):
        await current_user(users.services, f"Bearer {users.api_key}")
    with pytest.raises(Unauthenticated):
        await current_user(users.services, None)
