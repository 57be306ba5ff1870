"""OAuth state: bound to the browser by a signed cookie, single-use through the cache; every
bad callback is a start-over, never an error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from paydesk.domain.cashier.oauth import Identified, StartOver, finish_oauth, start_oauth
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import UpstreamFailed
from tests.stack import OA_APPID, Stack, StackFactory

pytestmark = pytest.mark.backends
CALLBACK = "http://paydesk.test/pay/TOKEN/oauth?try=1"


async def oauth_code(stack: Stack) -> tuple[str, str]:
    answer = await stack.sandbox_client.post("/_sandbox/oauth-code", json={"appid": OA_APPID})
    assert answer.status_code == 200, answer.text
    return answer.json()["code"], answer.json()["openid"]


async def begin(stack: Stack, order_id: str = "ord_1") -> tuple[str, str]:
    start = await start_oauth(
        stack.services, order_id=order_id, appid=OA_APPID, callback_url=CALLBACK
    )
    return start.state, start.cookie


async def test_the_authorize_url_carries_a_fresh_state_and_our_callback(stack: Stack) -> None:
    start = await start_oauth(
        stack.services, order_id="ord_1", appid=OA_APPID, callback_url=CALLBACK
    )
    parts = urlsplit(start.authorize_url)
    query = parse_qs(parts.query)
    assert parts.netloc == "open.weixin.qq.com"  # real WeChat outside sandbox mode
    assert parts.fragment == "wechat_redirect"
    assert query["redirect_uri"] == [CALLBACK]
    assert query["state"] == [start.state]
    assert query["scope"] == ["snsapi_base"]
    assert len(start.state) == 32
    assert start.state.isalnum()
    again = await start_oauth(
        stack.services, order_id="ord_1", appid=OA_APPID, callback_url=CALLBACK
    )
    assert again.state != start.state
    assert start.max_age == 600


async def test_a_good_callback_gives_the_openid_once(stack: Stack) -> None:
    state, cookie = await begin(stack)
    code, openid = await oauth_code(stack)
    first = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code=code, cookie=cookie
    )
    assert first == Identified(appid=OA_APPID, openid=openid)
    code2, _ = await oauth_code(stack)
    replay = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code=code2, cookie=cookie
    )
    assert replay == StartOver("state_used_or_expired")


async def test_another_browsers_state_is_refused_and_left_for_its_owner(stack: Stack) -> None:
    state, cookie = await begin(stack)
    _, other_cookie = await begin(stack)
    code, _ = await oauth_code(stack)
    stolen = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code=code, cookie=other_cookie
    )
    assert stolen == StartOver("other_browser")
    owner = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code=code, cookie=cookie
    )
    assert isinstance(owner, Identified)


@pytest.mark.parametrize(
    ("state", "cookie", "reason"),
    [
        (None, "c", "no_state"),
        ("", "c", "no_state"),
        ("S", None, "no_cookie"),
        ("S", "not.a-token", "bad_cookie"),
    ],
)
async def test_missing_or_garbled_pieces_start_over(
    stack: Stack, state: str | None, cookie: str | None, reason: str
) -> None:
    outcome = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code="C", cookie=cookie
    )
    assert outcome == StartOver(reason)


async def test_a_state_for_another_order_is_spent_and_refused(stack: Stack) -> None:
    state, cookie = await begin(stack, order_id="ord_A")
    code, _ = await oauth_code(stack)
    outcome = await finish_oauth(
        stack.services, order_id="ord_B", state=state, code=code, cookie=cookie
    )
    assert outcome == StartOver("other_order")


async def test_a_refusal_or_a_rejected_code_starts_over(stack: Stack) -> None:
    state, cookie = await begin(stack)
    refused = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code=None, cookie=cookie
    )
    assert refused == StartOver("refused")
    code, _ = await oauth_code(stack)
    state, cookie = await begin(stack)
    assert isinstance(
        await finish_oauth(stack.services, order_id="ord_1", state=state, code=code, cookie=cookie),
        Identified,
    )
    for bad_code in (code, "never-issued"):  # 40163 used, 40029 invalid
        state, cookie = await begin(stack)
        outcome = await finish_oauth(
            stack.services, order_id="ord_1", state=state, code=bad_code, cookie=cookie
        )
        assert outcome == StartOver("code_rejected")


async def test_a_stale_cookie_starts_over(make_stack: StackFactory) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = await make_stack(clock=clock)
    state, cookie = await begin(stack)
    clock.advance(601)
    outcome = await finish_oauth(
        stack.services, order_id="ord_1", state=state, code="C", cookie=cookie
    )
    assert outcome == StartOver("bad_cookie")


async def test_wechat_down_is_an_upstream_failure_not_a_start_over(stack: Stack) -> None:
    state, cookie = await begin(stack)
    code, _ = await oauth_code(stack)
    faults = await stack.sandbox_client.post(
        "/_sandbox/faults", json={"kind": "5xx", "path": "/sns/oauth2/access_token"}
    )
    assert faults.status_code in (200, 201), faults.text
    with pytest.raises(UpstreamFailed):
        await finish_oauth(stack.services, order_id="ord_1", state=state, code=code, cookie=cookie)


async def test_in_sandbox_mode_the_sandbox_is_the_authorize_host(make_stack: StackFactory) -> None:
    stack = await make_stack(settings={"sandbox": True})
    start = await start_oauth(
        stack.services, order_id="ord_1", appid=OA_APPID, callback_url=CALLBACK
    )
    assert start.authorize_url.startswith("http://sandbox.test/connect/oauth2/authorize?")


async def test_single_use_holds_on_the_runs_cache_backend(
    make_stack: StackFactory, redis_url: str | None, redis_prefix: str
) -> None:
    """Redis in the PostgreSQL run (shared by every replica), process memory otherwise."""
    stack = await make_stack(settings={"redis_url": redis_url, "redis_prefix": redis_prefix})
    try:
        assert stack.services.cache.backend == ("redis" if redis_url else "memory")
        state, cookie = await begin(stack)
        code, openid = await oauth_code(stack)
        first, second = await asyncio.gather(
            finish_oauth(stack.services, order_id="ord_1", state=state, code=code, cookie=cookie),
            finish_oauth(stack.services, order_id="ord_1", state=state, code=code, cookie=cookie),
        )
        assert sorted([first, second], key=repr) == [
            Identified(appid=OA_APPID, openid=openid),
            StartOver("state_used_or_expired"),
        ]
    finally:
        await stack.services.cache.aclose()
