"""``/wechat/push/{appid}`` with the sandbox's real pushes: the server check, every mode and
format, refusals, WeChat's retries, the background work, and the iOS detour in-process from
the card to a PAID order."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from paydesk.domain.registry import Registry
from paydesk.protocol.messages import push_signature
from paydesk.settings.config import PushMode
from tests.domain.push.support import (
    card,
    fast_runtime,
    new_person,
    point_pushes_at_paydesk,
    sent_to,
    stored_pushes,
    text,
    use_push_mode,
    user_writes,
)
from tests.domain.users.support import add_fault, payer_pays
from tests.stack import MINI_APPID, OA_APPID, PAYDESK_URL, Stack, StackFactory

pytestmark = pytest.mark.backends

PUSH_PATH = f"/wechat/push/{MINI_APPID}"
ECHO = "echostr-never-echoed-unless-signed"
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN"
)


@pytest.fixture
async def pushing(make_stack: StackFactory) -> AsyncIterator[Stack]:
    """A stack (sandbox mode: the sandbox is WeChat for browsers too) whose mini program's
    pushes come to paydesk, with a fast-retrying push worker — drained before the stack goes:
    work that outlived its test would write into the next one's database."""
    stack = await make_stack(settings={"sandbox": True})
    runtime = fast_runtime(stack)
    await point_pushes_at_paydesk(stack)
    yield stack
    await runtime.drain()


def push_token(stack: Stack, appid: str = MINI_APPID) -> str:
    app = stack.sandbox.credentials.app(appid)
    assert app is not None
    return app.push_token


async def drain(stack: Stack) -> None:
    await stack.app.state.push_runtime.drain()


def replay(stack: Stack, record: dict[str, Any], **query: str) -> Any:
    """Send the sandbox's recorded push again, byte for byte (``query`` overrides)."""
    sent = record["request"]
    fmt = record["format"]
    return stack.api.post(
        PUSH_PATH,
        params={**sent["query"], **query},
        content=sent["body"].encode(),
        headers={"Content-Type": "text/xml" if fmt == "xml" else "application/json"},
    )


# --- the server check ---------------------------------------------------------------------------


async def test_the_sandbox_server_check_passes(pushing: Stack) -> None:
    check = await pushing.sandbox_client.post("/_sandbox/push-check", json={"appid": MINI_APPID})
    assert check.status_code == 200, check.text
    answer = check.json()
    assert answer["ok"] is True, answer
    assert answer["attempt"]["response"] == answer["echostr"]


async def test_a_server_check_with_a_bad_signature_echoes_nothing(pushing: Stack) -> None:
    timestamp = str(int(pushing.services.clock.now().timestamp()))
    good = push_signature(push_token(pushing), timestamp, "42")
    for signature in (good[::-1], push_signature("not-the-token", timestamp, "42")):
        answer = await pushing.api.get(
            PUSH_PATH,
            params={"signature": signature, "timestamp": timestamp, "nonce": "42", "echostr": ECHO},
        )
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "bad_push_signature"
        assert ECHO not in answer.text
    ok = await pushing.api.get(
        PUSH_PATH,
        params={"signature": good, "timestamp": timestamp, "nonce": "42", "echostr": ECHO},
    )
    assert (ok.status_code, ok.text, ok.headers["content-type"]) == (
        200,
        ECHO,
        "text/plain; charset=utf-8",
    )


async def test_a_stale_server_check_is_refused(pushing: Stack) -> None:
    old = str(int(pushing.services.clock.now().timestamp()) - 3600)
    answer = await pushing.api.get(
        PUSH_PATH,
        params={
            "signature": push_signature(push_token(pushing), old, "1"),
            "timestamp": old,
            "nonce": "1",
            "echostr": "E1",
        },
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "stale_push"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/wechat/push/wx0000000000000009", 404, "app_not_found"),
        ("/wechat/push/not-an-appid", 400, "invalid_request"),
    ],
)
async def test_pushes_for_unknown_apps_are_refused(
    pushing: Stack, path: str, status: int, code: str
) -> None:
    answer = await pushing.api.post(
        path, params={"signature": "s", "timestamp": "1", "nonce": "n"}, content=b"<xml/>"
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


async def test_an_app_without_a_push_token_takes_no_pushes(pushing: Stack) -> None:
    config = pushing.services.registry.config
    apps = [a.model_copy(update={"push_token": None}) for a in config.apps]
    pushing.services.registry = Registry(config.model_copy(update={"apps": apps}), PAYDESK_URL)
    answer = await pushing.api.get(
        PUSH_PATH, params={"signature": "s", "timestamp": "1", "nonce": "n", "echostr": "e"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "push_not_configured"


async def test_a_push_without_its_query_is_a_precise_400(pushing: Stack) -> None:
    answer = await pushing.api.post(PUSH_PATH, params={"nonce": "n"}, content=b"<xml/>")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("timestamp:")


# --- every mode and format ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_a_real_push_in_every_mode_and_format_is_taken_and_answered(
    pushing: Stack, mode: PushMode, fmt: str
) -> None:
    use_push_mode(pushing, mode)
    person = await new_person(pushing)
    order = await pushing.create_order(amount=880)
    record = await user_writes(pushing, person["openid"], card(order["id"]), mode=mode, fmt=fmt)
    assert record["delivered"] is True, record
    [attempt] = record["attempts"]
    assert (attempt["status"], attempt["response"]) == (200, "success")
    await drain(pushing)
    [row] = await stored_pushes(pushing)
    assert row.dedupe_key == f"msg:{record['msg_id']}"
    assert row.payload["PagePath"] == f"pages/pay/pay?order={order['id']}"
    assert row.handled_at is not None
    [sent] = await sent_to(pushing, person["openid"])
    assert sent["msgtype"] == "link"
    assert sent["body"]["link"]["url"].startswith(f"{PAYDESK_URL}/pay/")
    assert "¥8.80" in sent["body"]["link"]["description"]


@pytest.mark.parametrize("configured", ["safe", "compatible"])
async def test_an_encrypting_app_refuses_plain_pushes(pushing: Stack, configured: PushMode) -> None:
    use_push_mode(pushing, configured)
    person = await new_person(pushing)
    record = await user_writes(pushing, person["openid"], text("ord_x"), mode="plain")
    assert record["delivered"] is False
    assert [a["status"] for a in record["attempts"]] == [401, 401, 401, 401]
    assert await stored_pushes(pushing) == []


async def test_a_plain_mode_app_also_opens_safe_pushes(pushing: Stack) -> None:
    use_push_mode(pushing, "plain")
    person = await new_person(pushing)
    record = await user_writes(pushing, person["openid"], text("你好"), mode="safe", fmt="json")
    assert record["delivered"] is True
    [row] = await stored_pushes(pushing)
    assert row.payload["Content"] == "你好"


# --- forged, stale, oversized -------------------------------------------------------------------


async def test_forged_pushes_are_401_and_change_nothing(pushing: Stack) -> None:
    person = await new_person(pushing)
    record = await user_writes(pushing, person["openid"], text("hi"), mode="safe")
    await drain(pushing)
    rows = len(await stored_pushes(pushing))
    forged_signature = await replay(pushing, record, msg_signature="0" * 40)
    assert forged_signature.status_code == 401, forged_signature.text
    body = record["request"]["body"]
    assert "<Encrypt><![CDATA[" in body
    tampered_body = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[A")
    tampered = record | {"request": record["request"] | {"body": tampered_body}}
    forged_body = await replay(pushing, tampered)
    assert forged_body.status_code == 401, forged_body.text
    assert forged_body.json()["error"]["code"] == "bad_push_signature"
    assert len(await stored_pushes(pushing)) == rows


async def test_a_replayed_push_outside_the_window_is_stale(pushing: Stack) -> None:
    person = await new_person(pushing)
    record = await user_writes(pushing, person["openid"], text("hi"), mode="plain")
    assert record["delivered"] is False  # the app wants safe mode; only the bytes matter here
    use_push_mode(pushing, "plain")
    token = push_token(pushing)
    old = str(int(pushing.services.clock.now().timestamp()) - 301)
    nonce = record["request"]["query"]["nonce"]
    answer = await replay(
        pushing, record, timestamp=old, signature=push_signature(token, old, nonce)
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "stale_push"


async def test_an_oversized_push_is_413(pushing: Stack) -> None:
    answer = await pushing.api.post(
        PUSH_PATH,
        params={"signature": "s", "timestamp": "1", "nonce": "n"},
        content=b"<xml>" + b"a" * 40_000 + b"</xml>",
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


# --- WeChat's retries ---------------------------------------------------------------------------


async def test_a_push_sent_again_byte_for_byte_is_answered_and_not_worked_twice(
    pushing: Stack,
) -> None:
    person = await new_person(pushing)
    order = await pushing.create_order()
    record = await user_writes(pushing, person["openid"], card(order["id"]))
    for _ in range(3):
        again = await replay(pushing, record)
        assert (again.status_code, again.text) == (200, "success")
    await drain(pushing)
    assert len(await stored_pushes(pushing)) == 1
    assert len(await sent_to(pushing, person["openid"])) == 1


class FirstAnswerLost(httpx.AsyncBaseTransport):
    """Delivers every request to the app, but loses the first answer: WeChat sees a failure
    and sends the same push again."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.calls += 1
        if self.calls == 1:
            await response.aread()
            return httpx.Response(502, text="bad gateway", request=request)
        return response


async def test_the_sandbox_retrying_a_push_gets_it_worked_once(pushing: Stack) -> None:
    await pushing.sandbox.http.aclose()
    pushing.sandbox.http = httpx.AsyncClient(transport=FirstAnswerLost(pushing.app))
    person = await new_person(pushing)
    order = await pushing.create_order()
    record = await user_writes(pushing, person["openid"], card(order["id"]), fmt="json")
    assert [a["status"] for a in record["attempts"]] == [502, 200]
    assert record["delivered"] is True
    await drain(pushing)
    assert len(await stored_pushes(pushing)) == 1
    assert [m["msgtype"] for m in await sent_to(pushing, person["openid"])] == ["link"]


# --- the background -----------------------------------------------------------------------------


async def test_the_answer_does_not_wait_for_the_work(pushing: Stack) -> None:
    await add_fault(pushing, kind="slow", path="/cgi-bin/message/custom/send", seconds=1.5)
    person = await new_person(pushing)
    order = await pushing.create_order()
    record = await user_writes(pushing, person["openid"], card(order["id"]))
    [attempt] = record["attempts"]
    assert attempt["response"] == "success"
    assert attempt["elapsed_ms"] < 1000, attempt
    assert await sent_to(pushing, person["openid"]) == []  # still being sent
    await drain(pushing)
    assert len(await sent_to(pushing, person["openid"])) == 1


async def test_work_that_failed_once_is_retried_in_the_background(pushing: Stack) -> None:
    await add_fault(pushing, kind="5xx", path="/cgi-bin/message/custom/send", times=1)
    person = await new_person(pushing)
    order = await pushing.create_order()
    await user_writes(pushing, person["openid"], card(order["id"]))
    await drain(pushing)
    assert len(await sent_to(pushing, person["openid"])) == 1
    [row] = await stored_pushes(pushing)
    assert row.handled_at is not None


async def test_the_default_worker_is_made_on_first_use(make_stack: StackFactory) -> None:
    stack = await make_stack()
    await point_pushes_at_paydesk(stack)
    assert getattr(stack.app.state, "push_runtime", None) is None
    person = await new_person(stack)
    await user_writes(stack, person["openid"], text("你好"))
    runtime = stack.app.state.push_runtime
    assert runtime.settings.retry_delays == (1.0, 5.0, 30.0)
    await runtime.drain()


async def test_the_card_picture_is_served(pushing: Stack) -> None:
    answer = await pushing.api.get("/wechat/thumb.png")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG")


# --- the detour, in-process ---------------------------------------------------------------------


def sandbox_path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "sandbox.test", url
    return f"{parts.path}?{parts.query}"


async def test_a_card_becomes_a_link_that_pays_by_oauth_and_jsapi(pushing: Stack) -> None:
    person = await new_person(pushing)
    order = await pushing.create_order(amount=2500, description="年度会员")
    await user_writes(pushing, person["openid"], card(order["id"]))
    await drain(pushing)
    [message] = await sent_to(pushing, person["openid"])
    url = message["body"]["link"]["url"]
    # The same person opens the link in WeChat's browser: OAuth through the official account.
    me = await pushing.sandbox_client.get(
        "/_sandbox/as-user", params={"unionid": person["unionid"]}
    )
    assert me.status_code == 200, me.text
    oa_openid = me.json()["openids"][OA_APPID]
    headers = {"User-Agent": WECHAT_UA, "Accept-Language": "zh-CN"}
    entry = await pushing.api.get(url, headers=headers)
    assert entry.status_code == 302, entry.text
    assert "scope=snsapi_base" in entry.headers["location"]
    authorized = await pushing.sandbox_client.get(sandbox_path(entry.headers["location"]))
    assert authorized.status_code == 302, authorized.text
    page = await pushing.api.get(authorized.headers["location"], headers=headers)
    assert page.status_code == 200, page.text
    found = re.search(r'<script type="application/json" id="pay-params">(.*?)</script>', page.text)
    assert found, page.text[:400]
    params = json.loads(html.unescape(found.group(1)))
    assert params["appId"] == OA_APPID
    paid = await payer_pays(pushing, params)  # the WeixinJSBridge stand-in checks paySign
    assert paid.status_code == 200, paid.text
    await pushing.sandbox.pay.drain()
    result = await pushing.api.get(f"{url}/result", headers=headers)
    assert 'data-phase="paid"' in result.text
    final = await pushing.api.get(f"/api/v1/orders/{order['id']}", headers=pushing.merchant_headers)
    assert final.json()["state"] == "PAID"
    assert final.json()["payer"] == {"openid": oa_openid, "appid": OA_APPID}
