"""The cashier over the API, in-process against the sandbox: the link, the three roads, the
OAuth state rules, the result page, live status and the merchant's own pay call."""

from __future__ import annotations

import asyncio
import html
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from sqlalchemy import select

from paydesk.api.routes.cashier import MerchantPayRequest, merchant_pay, read_merchant_pay
from paydesk.db.models import ApiKey
from paydesk.domain.cashier import prepays, status
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import InvalidInput
from paydesk.web import outcome
from tests.domain.users.support import payer_pays
from tests.stack import CERTIFICATE_MCHID, OA_APPID, PAYDESK_URL, Stack, StackFactory

pytestmark = pytest.mark.backends

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


# --- helpers ------------------------------------------------------------------------------------


async def sandbox_stack(make_stack: StackFactory, **settings: Any) -> Stack:
    return await make_stack(settings={"sandbox": True, **settings})


async def cashier_link(stack: Stack, **order_fields: Any) -> tuple[dict[str, Any], str]:
    order = await stack.create_order(**order_fields)
    response = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers=stack.merchant_headers
    )
    assert response.status_code == 200, response.text
    return order, response.json()["url"]


def phase(page: httpx.Response) -> str:
    found = re.search(r'<body[^>]* data-phase="([a-z]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def data_attribute(page: httpx.Response, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', page.text)
    assert found, f"no data-{name} in the page"
    return html.unescape(found.group(1))


def pay_params(page: httpx.Response) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="pay-params">(.*?)</script>', page.text)
    assert found, page.text[:500]
    params: dict[str, str] = json.loads(found.group(1))
    return params


def sandbox_path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "sandbox.test", url
    return parts.path + ("?" + parts.query if parts.query else "")


async def authorize(stack: Stack, redirect: httpx.Response) -> str:
    """Follow our redirect to the sandbox's authorize page; return its callback URL."""
    assert redirect.status_code == 302, redirect.text
    answer = await stack.sandbox_client.get(sandbox_path(redirect.headers["location"]))
    assert answer.status_code == 302, answer.text
    callback: str = answer.headers["location"]
    assert callback.startswith(f"{PAYDESK_URL}/pay/"), callback
    return callback


# --- the link -----------------------------------------------------------------------------------


async def test_the_merchant_gets_a_link_that_expires_with_the_order(stack: Stack) -> None:
    order, url = await cashier_link(stack, expires_in=600)
    assert url.startswith(f"{PAYDESK_URL}/pay/")
    again = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers=stack.merchant_headers
    )
    assert again.json() == {
        "object": "cashier_link",
        "order_id": order["id"],
        "url": url,
        "expires_at": order["expires_at"],
    }


async def test_no_link_without_a_key_for_unknown_or_closed_orders(stack: Stack) -> None:
    order = await stack.create_order()
    path = f"/api/v1/orders/{order['id']}/cashier"
    assert (await stack.api.post(path)).status_code == 401
    unknown = await stack.api.post(
        "/api/v1/orders/ord_nope/cashier", headers=stack.merchant_headers
    )
    assert unknown.status_code == 404
    closed = await stack.api.post(
        f"/api/v1/orders/{order['id']}/close", headers=stack.merchant_headers
    )
    assert closed.status_code == 200, closed.text
    refused = await stack.api.post(path, headers=stack.merchant_headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "order_not_payable"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "x" + token,
        lambda token: token.split(".")[0],
        lambda token: "nonsense",
    ],
    ids=["signature", "payload", "no-signature", "garbage"],
)
async def test_a_tampered_link_shows_a_not_valid_page(stack: Stack, mangle: Any) -> None:
    _, url = await cashier_link(stack)
    token = url.rsplit("/", 1)[1]
    page = await stack.api.get(f"/pay/{mangle(token)}", headers={"User-Agent": DESKTOP_UA})
    assert page.status_code == 404
    assert "链接无效" in page.text
    assert page.headers["cache-control"] == "no-store"
    status_answer = await stack.api.get(f"/pay/{mangle(token)}/status")
    assert status_answer.status_code == 404
    assert status_answer.json()["error"]["code"] == "invalid_cashier"
    assert (await stack.api.get(f"/pay/{mangle(token)}/events")).status_code == 404
    assert (await stack.api.get(f"/pay/{mangle(token)}/result")).status_code == 404


# --- the desktop road: Native ------------------------------------------------------------------


async def test_a_computer_gets_a_qr_code_with_amount_and_merchant(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack, amount=123456, description="年卡 annual plan")
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert page.status_code == 200, page.text
    assert phase(page) == "open"
    assert 'data-page="native"' in page.text
    assert '<svg viewBox="0 0 ' in page.text
    assert "1,234.56" in page.text
    assert "年卡 annual plan" in page.text
    assert "Sandbox merchant 1900000001" in page.text
    assert data_attribute(page, "events-url") == f"{url}/events"
    assert data_attribute(page, "status-url") == f"{url}/status"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    scan = data_href(page, "sandbox-scan")
    code_url = parse_qs(urlsplit(scan).query)["code_url"][0]
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    reloaded = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert data_href(reloaded, "sandbox-scan") == scan  # the same prepay, reused


def data_href(page: httpx.Response, element_id: str) -> str:
    found = re.search(rf'href="([^"]+)"[^>]*id="{element_id}"', page.text)
    assert found, f"no #{element_id} link"
    return html.unescape(found.group(1))


async def test_paying_the_qr_code_turns_status_to_paid(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    code_url = parse_qs(urlsplit(data_href(page, "sandbox-scan")).query)["code_url"][0]
    first = (await stack.api.get(f"{url}/status")).json()
    assert (first["phase"], first["paid"], first["final"]) == ("open", False, False)
    paid = await stack.sandbox_client.post("/_sandbox/pay", json={"code_url": code_url})
    assert paid.status_code == 200, paid.text
    result = await stack.api.get(f"{url}/result")
    assert phase(result) == "paid"
    assert "支付成功" in result.text
    answer = (await stack.api.get(f"{url}/status")).json()
    assert (answer["phase"], answer["state"], answer["paid"], answer["final"]) == (
        "paid",
        "PAID",
        True,
        True,
    )
    again = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert again.status_code == 303
    assert again.headers["location"] == f"{url}/result"


async def test_the_event_stream_ends_when_the_order_is_paid(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcome.WATCH, "poll_seconds", 0.05)
    monkeypatch.setattr(status, "SYNC_EVERY_SECONDS", 0.2)
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    code_url = parse_qs(urlsplit(data_href(page, "sandbox-scan")).query)["code_url"][0]

    watching = asyncio.Event()
    watch = outcome.watch

    async def signalling_watch(*args: Any, **kwargs: Any) -> Any:
        async for view in watch(*args, **kwargs):
            yield view
            watching.set()  # the first view went out: the stream said "open"

    monkeypatch.setattr(outcome, "watch", signalling_watch)

    async def pay_once_watched() -> None:
        # Not after a fixed delay: on a loaded machine the payment landed before the stream
        # started, which then said "paid" only.
        await watching.wait()
        await stack.sandbox_client.post("/_sandbox/pay", json={"code_url": code_url})

    payer = asyncio.create_task(pay_once_watched())
    stream = await asyncio.wait_for(stack.api.get(f"{url}/events"), timeout=20)
    await asyncio.wait_for(payer, timeout=5)
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.text.startswith("retry: 3000\n\n")
    events = [
        json.loads(block.split("data: ", 1)[1])
        for block in stream.text.split("\n\n")
        if block.startswith("event: status")
    ]
    assert [e["phase"] for e in events] == ["open", "paid"]
    assert events[-1]["final"] is True


async def test_the_event_stream_ends_when_the_order_expires(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcome.WATCH, "poll_seconds", 0.01)
    clock = FixedClock(datetime.now(UTC))
    stack = await make_stack(clock=clock, settings={"sandbox": True})
    _, url = await cashier_link(stack, expires_in=120)
    assert (await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})).status_code == 200
    clock.advance(121)
    stream = await asyncio.wait_for(stack.api.get(f"{url}/events"), timeout=20)
    assert stream.text.count("event: status") == 1
    assert '"phase":"expired"' in stream.text
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert page.status_code == 303
    result = await stack.api.get(page.headers["location"])
    assert phase(result) == "expired"
    assert "订单已过期" in result.text


async def test_a_stream_that_outlives_its_time_ends_and_lets_the_browser_reconnect(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcome.WATCH, "poll_seconds", 0.01)
    monkeypatch.setattr(outcome.WATCH, "max_seconds", 0.1)
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    stream = await asyncio.wait_for(stack.api.get(f"{url}/events"), timeout=20)
    assert stream.text.count("event: status") == 1
    assert '"phase":"open"' in stream.text


# --- the phone road: H5 --------------------------------------------------------------------------


async def test_a_phone_is_handed_to_the_h5_sheet_and_comes_back_paid(
    make_stack: StackFactory,
) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack, amount=880)
    page = await stack.api.get(url, headers={"User-Agent": PHONE_UA})
    assert page.status_code == 200, page.text
    assert 'data-page="h5"' in page.text
    assert page.headers["referrer-policy"] == "origin"  # WeChat checks the H5 domain
    h5_url = data_attribute(page, "h5-url")
    assert "/_sandbox/checkmweb?" in h5_url
    assert parse_qs(urlsplit(h5_url).query)["redirect_url"] == [f"{url}/result"]
    sheet = await stack.sandbox_client.get(sandbox_path(h5_url))
    assert sheet.status_code == 200, sheet.text
    form = dict(
        re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)">', sheet.text)
    )
    form = {k: html.unescape(v) for k, v in form.items()}
    submitted = await stack.sandbox_client.post(
        "/_sandbox/pay-sheet", data={**form, "result": "SUCCESS"}
    )
    assert submitted.status_code == 303, submitted.text
    back = submitted.headers["location"]
    assert back == f"{url}/result"
    result = await stack.api.get(back)
    assert phase(result) == "paid"


async def test_a_cancelled_h5_payment_returns_to_a_not_yet_paid_result(
    make_stack: StackFactory,
) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    page = await stack.api.get(url, headers={"User-Agent": PHONE_UA})
    h5_url = data_attribute(page, "h5-url")
    cancelled = await stack.sandbox_client.post(
        "/_sandbox/pay", json={"h5_url": h5_url.split("&redirect_url=")[0], "result": "CANCEL"}
    )
    assert cancelled.status_code == 200, cancelled.text
    result = await stack.api.get(f"{url}/result")
    assert phase(result) == "open"
    assert data_attribute(result, "events-url") == f"{url}/events"
    assert f'href="{url}"' in result.text  # pay again


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        ((), "203.0.113.5", "127.0.0.1"),
        (("127.0.0.1",), "203.0.113.5", "203.0.113.5"),
        (("127.0.0.0/8",), "198.51.100.1, 203.0.113.5", "203.0.113.5"),
    ],
    ids=["untrusted-peer", "trusted-peer", "trusted-network-rightmost"],
)
async def test_h5_declares_the_real_client_ip(
    make_stack: StackFactory,
    monkeypatch: pytest.MonkeyPatch,
    trusted: tuple[str, ...],
    forwarded: str,
    expected: str,
) -> None:
    seen: list[Any] = []
    original = prepays.start_payment

    async def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[3])
        return await original(*args, **kwargs)

    monkeypatch.setattr(prepays, "start_payment", spy)
    stack = await sandbox_stack(make_stack, trusted_proxies=trusted)
    _, url = await cashier_link(stack)
    page = await stack.api.get(url, headers={"User-Agent": PHONE_UA, "X-Forwarded-For": forwarded})
    assert page.status_code == 200, page.text
    assert [(p.client_ip, p.h5_type) for p in seen] == [(expected, "Android")]


# --- the WeChat road: OAuth, then JSAPI ----------------------------------------------------------


async def test_in_wechat_oauth_then_jsapi_then_paid(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack, amount=2500)
    first = await stack.api.get(url, headers={"User-Agent": WECHAT_UA})
    assert first.status_code == 302
    location = first.headers["location"]
    assert location.startswith("http://sandbox.test/connect/oauth2/authorize?appid=")
    query = parse_qs(urlsplit(location).query)
    assert query["scope"] == ["snsapi_base"]
    assert unquote(query["redirect_uri"][0]) == f"{url}/oauth?try=1"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Path=/pay" in cookie
    callback = await authorize(stack, first)
    page = await stack.api.get(callback, headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200, page.text
    assert 'data-page="jsapi"' in page.text
    assert '<script src="http://sandbox.test/_sandbox/jsbridge.js"></script>' in page.text
    params = pay_params(page)
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == query["appid"][0]
    paid = await payer_pays(stack, params)
    assert paid.status_code == 200, paid.text
    assert paid.json()["err_msg"] == "get_brand_wcpay_request:ok"
    result = await stack.api.get(f"{url}/result?r=ok")
    assert phase(result) == "paid"


async def test_the_bridge_saying_ok_is_not_proof_of_payment(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    callback = await authorize(stack, await stack.api.get(url, headers={"User-Agent": WECHAT_UA}))
    assert (await stack.api.get(callback, headers={"User-Agent": WECHAT_UA})).status_code == 200
    result = await stack.api.get(f"{url}/result?r=ok")
    assert phase(result) == "open"
    assert "正在确认支付结果" in result.text
    cancelled = await stack.api.get(f"{url}/result?r=cancel")
    assert "您已取消付款" in cancelled.text


async def test_a_replayed_callback_starts_over_instead_of_failing(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    callback = await authorize(stack, await stack.api.get(url, headers={"User-Agent": WECHAT_UA}))
    assert (await stack.api.get(callback, headers={"User-Agent": WECHAT_UA})).status_code == 200
    replay = await stack.api.get(callback, headers={"User-Agent": WECHAT_UA})
    assert replay.status_code == 302  # the state was used: a fresh authorize, not an error
    redirect_uri = unquote(parse_qs(urlsplit(replay.headers["location"]).query)["redirect_uri"][0])
    assert redirect_uri == f"{url}/oauth?try=2"
    again = await stack.api.get(await authorize(stack, replay), headers={"User-Agent": WECHAT_UA})
    assert again.status_code == 200
    assert 'data-page="jsapi"' in again.text


async def test_a_used_or_unknown_code_starts_over(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    callback = await authorize(stack, await stack.api.get(url, headers={"User-Agent": WECHAT_UA}))
    used_code = parse_qs(urlsplit(callback).query)["code"][0]
    assert (await stack.api.get(callback, headers={"User-Agent": WECHAT_UA})).status_code == 200
    for code in (used_code, "never-issued"):  # WeChat: 40163 code been used / 40029 invalid
        fresh = await authorize(stack, await stack.api.get(url, headers={"User-Agent": WECHAT_UA}))
        state = parse_qs(urlsplit(fresh).query)["state"][0]
        answer = await stack.api.get(
            f"{url}/oauth", params={"code": code, "state": state}, headers={"User-Agent": WECHAT_UA}
        )
        assert answer.status_code == 302, answer.text
        assert "/connect/oauth2/authorize?" in answer.headers["location"]


async def test_the_state_is_bound_to_the_browser_that_started(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    victim_callback = await authorize(
        stack, await stack.api.get(url, headers={"User-Agent": WECHAT_UA})
    )
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app), base_url=PAYDESK_URL)
    async with other:
        stolen = await other.get(victim_callback, headers={"User-Agent": WECHAT_UA})
        assert stolen.status_code == 302  # no cookie for this state here: start over
        assert "/connect/oauth2/authorize?" in stolen.headers["location"]
        # The other browser's own attempt (new cookie) does not make the stolen one work…
        mixed = await other.get(victim_callback, headers={"User-Agent": WECHAT_UA})
        assert mixed.status_code == 302
    # …and the state was not spent by them: the browser that started still finishes.
    page = await stack.api.get(victim_callback, headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200
    assert 'data-page="jsapi"' in page.text


async def test_a_missing_state_starts_over_and_the_loop_is_bounded(
    make_stack: StackFactory,
) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    bare = await stack.api.get(f"{url}/oauth?code=abc", headers={"User-Agent": WECHAT_UA})
    assert bare.status_code == 302
    assert "/connect/oauth2/authorize?" in bare.headers["location"]
    gave_up = await stack.api.get(f"{url}/oauth?try=3&code=abc", headers={"User-Agent": WECHAT_UA})
    assert gave_up.status_code == 200
    assert "需要确认您的微信身份" in gave_up.text
    assert f'href="{url}"' in gave_up.text
    odd = await stack.api.get(f"{url}/oauth?try=abc", headers={"User-Agent": WECHAT_UA})
    assert odd.status_code == 302


async def test_wecom_is_not_wechat(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    wecom = "Mozilla/5.0 (iPhone) Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh"
    page = await stack.api.get(url, headers={"User-Agent": wecom})
    assert page.status_code == 200
    assert 'data-page="h5"' in page.text


async def test_without_a_bound_official_account_wechat_users_are_told_plainly(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    registry = stack.services.registry
    monkeypatch.setattr(
        type(registry),
        "apps",
        property(lambda self: [a for a in self.config.apps if a.type != "official_account"]),
    )
    page = await stack.api.get(url, headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 409
    assert "请在其他浏览器中打开" in page.text


async def test_the_oauth_return_checks_the_link_and_the_order_first(stack: Stack) -> None:
    order, url = await cashier_link(stack)
    token = url.rsplit("/", 1)[1]
    forged = await stack.api.get(f"/pay/x{token}/oauth?code=c&state=s")
    assert forged.status_code == 404
    closed = await stack.api.post(
        f"/api/v1/orders/{order['id']}/close", headers=stack.merchant_headers
    )
    assert closed.status_code == 200
    late = await stack.api.get(f"{url}/oauth?code=c&state=s", headers={"User-Agent": WECHAT_UA})
    assert late.status_code == 303
    result = await stack.api.get(late.headers["location"])
    assert phase(result) == "closed"
    assert "订单已关闭" in result.text


async def test_a_payment_found_while_switching_roads_leads_to_the_result(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status, "SYNC_EVERY_SECONDS", 60.0)
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    code_url = parse_qs(urlsplit(data_href(page, "sandbox-scan")).query)["code_url"][0]
    assert (await stack.api.get(f"{url}/status")).json()["phase"] == "open"  # asked WeChat
    dropped = await stack.sandbox_client.post("/_sandbox/faults", json={"kind": "drop"})
    assert dropped.status_code in (200, 201)
    paid = await stack.sandbox_client.post("/_sandbox/pay", json={"code_url": code_url})
    assert paid.status_code == 200
    # The phone opens the same link before we heard of the payment: closing the QR code's
    # prepay at WeChat reveals it, and the phone is shown the result, not a second payment.
    phone = await stack.api.get(url, headers={"User-Agent": PHONE_UA})
    assert phone.status_code == 303
    assert phase(await stack.api.get(phone.headers["location"])) == "paid"


async def test_without_any_bound_app_a_computer_is_told_payment_is_unavailable(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = await cashier_link(stack)
    monkeypatch.setattr(type(stack.services.registry), "apps", property(lambda self: []))
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert page.status_code == 409
    assert "暂时无法付款" in page.text


# --- pages: language, assets, limits -------------------------------------------------------------


async def test_pages_speak_english_when_asked_and_chinese_by_default(
    make_stack: StackFactory,
) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack)
    english = await stack.api.get(
        url, headers={"User-Agent": DESKTOP_UA, "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    )
    assert '<html lang="en">' in english.text
    assert "Scan with WeChat to pay" in english.text
    chinese = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert '<html lang="zh-CN">' in chinese.text
    assert "请使用微信扫一扫付款" in chinese.text


async def test_static_assets_are_served_with_long_caching(stack: Stack) -> None:
    _, url = await cashier_link(stack)
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    css = re.search(r'href="http://paydesk.test(/pay/static/cashier.css\?v=[0-9a-f]+)"', page.text)
    assert css
    answer = await stack.api.get(css.group(1))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert "immutable" in answer.headers["cache-control"]
    script = await stack.api.get("/pay/static/cashier.js")
    assert "getBrandWCPayRequest" in script.text
    assert (await stack.api.get("/pay/static/secrets.txt")).status_code == 404


async def test_road_starts_are_rate_limited_per_order(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paydesk.web import roads

    monkeypatch.setattr(roads, "ROAD_STARTS_PER_MINUTE", 2)
    _, url = await cashier_link(stack)
    for _ in range(2):
        assert (await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})).status_code == 200
    limited = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


async def test_wechat_being_down_shows_a_retry_page(stack: Stack) -> None:
    _, url = await cashier_link(stack)
    faults = await stack.sandbox_client.post(
        "/_sandbox/faults", json={"kind": "5xx", "path": "/v3/pay/transactions/native"}
    )
    assert faults.status_code in (200, 201), faults.text
    page = await stack.api.get(url, headers={"User-Agent": DESKTOP_UA})
    assert page.status_code == 503
    assert "微信支付暂时繁忙" in page.text
    assert f'href="{url}"' in page.text


async def test_an_order_for_someone_else_cannot_be_paid_here(make_stack: StackFactory) -> None:
    stack = await sandbox_stack(make_stack)
    _, url = await cashier_link(stack, payer_openid="o-somebody-else")
    callback = await authorize(stack, await stack.api.get(url, headers={"User-Agent": WECHAT_UA}))
    page = await stack.api.get(callback, headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 403
    assert "无法支付此订单" in page.text


# --- the merchant's own pages: POST /orders/{id}/pay with the API key ----------------------------


async def api_key(stack: Stack) -> ApiKey:
    async with stack.services.db() as session:
        key = await session.scalar(select(ApiKey).limit(1))
    assert key is not None
    return key


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"channel": "native"}, "code_url"),
        ({"channel": "native", "appid": OA_APPID}, "code_url"),
        ({"channel": "native", "client_ip": None, "redirect_url": None}, "code_url"),
        ({"channel": "h5", "client_ip": "203.0.113.7"}, "h5_url"),
    ],
)
async def test_merchant_pay_returns_the_client_params(
    stack: Stack, body: dict[str, Any], param: str
) -> None:
    order = await stack.create_order()
    answer = await merchant_pay(
        stack.services, await api_key(stack), order["id"], read_merchant_pay(body)
    )
    assert answer["order_id"] == order["id"]
    assert answer["channel"] == body["channel"]
    assert answer["api_version"] == "v3"
    assert answer["reused"] is False
    assert set(answer["params"]) == {param}


async def test_merchant_pay_jsapi_needs_an_openid_and_pays_with_it(stack: Stack) -> None:
    order = await stack.create_order()
    key = await api_key(stack)
    with pytest.raises(InvalidInput):
        await merchant_pay(stack.services, key, order["id"], MerchantPayRequest(channel="jsapi"))
    answer = await merchant_pay(
        stack.services,
        key,
        order["id"],
        MerchantPayRequest(channel="jsapi", openid="oMerchantKnowsThisPayer0000"),
    )
    assert (await payer_pays(stack, answer["params"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"channel": "h5"}, "client_ip_required"),
        (
            {"channel": "native", "redirect_url": "https://shop.example/done"},
            "redirect_url_not_allowed",
        ),
        ({"channel": "app"}, "appid_required"),
    ],
)
async def test_merchant_pay_refuses_incomplete_requests(
    stack: Stack, body: dict[str, Any], code: str
) -> None:
    order = await stack.create_order()
    with pytest.raises(InvalidInput) as refused:
        await merchant_pay(
            stack.services, await api_key(stack), order["id"], read_merchant_pay(body)
        )
    assert refused.value.code == code


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "miniprogram"},
        {"channel": "native", "amount": 1},
        {"channel": "h5", "client_ip": "not-an-ip"},
        {"channel": "h5", "client_ip": "1.2.3.4", "redirect_url": "javascript:alert(1)"},
        {"channel": "jsapi", "appid": "nope"},
    ],
)
def test_merchant_pay_bodies_are_validated(body: dict[str, Any]) -> None:
    from fastapi.exceptions import RequestValidationError

    with pytest.raises(RequestValidationError) as refused:
        read_merchant_pay(body)
    assert refused.value.errors()[0]["loc"][0] == "body"


async def test_merchant_pay_over_http_shares_the_pay_route_with_users(stack: Stack) -> None:
    order = await stack.create_order()
    path = f"/api/v1/orders/{order['id']}/pay"
    native = await stack.api.post(path, json={"channel": "native"}, headers=stack.merchant_headers)
    assert native.status_code == 200, native.text
    assert native.json()["params"]["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    jsapi = await stack.api.post(
        path,
        json={"channel": "jsapi", "openid": "oMerchantKnowsThisPayer0000"},
        headers=stack.merchant_headers,
    )
    assert jsapi.status_code == 200, jsapi.text
    assert jsapi.json()["reused"] is False
    paid = await payer_pays(stack, jsapi.json()["params"])
    assert paid.status_code == 200, paid.text
    assert paid.json()["err_msg"] == "get_brand_wcpay_request:ok"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"channel": "miniprogram"}, 400, "invalid_request"),  # the user's channel, not ours
        ({"channel": "native", "amount": 1}, 400, "invalid_request"),
        ({"channel": "h5"}, 400, "client_ip_required"),
        ({"channel": "app"}, 400, "appid_required"),
        ([], 400, "invalid_request"),
    ],
)
async def test_merchant_pay_over_http_refusals(
    stack: Stack, body: Any, status: int, code: str
) -> None:
    order = await stack.create_order()
    answer = await stack.api.post(
        f"/api/v1/orders/{order['id']}/pay", json=body, headers=stack.merchant_headers
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


async def test_merchant_pay_is_scoped_to_the_keys_merchant(stack: Stack) -> None:
    from paydesk.domain import apikeys

    async with stack.services.db.begin() as session:
        other, _ = await apikeys.create_api_key(
            session,
            name="other shop",
            mchid=CERTIFICATE_MCHID,
            ids=stack.services.ids,
            now=stack.services.clock.now(),
        )
    order = await stack.create_order()  # the first merchant's
    answer = await stack.api.post(
        f"/api/v1/orders/{order['id']}/pay",
        json={"channel": "native"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert answer.status_code == 404
    link = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers={"Authorization": f"Bearer {other}"}
    )
    assert link.status_code == 404
