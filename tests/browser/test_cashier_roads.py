"""One test per browser road, in headless Chromium, against ``paydesk serve`` over real HTTP.

* WeChat's browser: OAuth at the sandbox → JSAPI page → the ``WeixinJSBridge`` stand-in's pay
  sheet → Pay → the result page asks the server → PAID;
* a phone browser: H5 hand-over to the sandbox's pay sheet → Pay → back on our result → PAID;
* a computer: the QR code → paid through the sandbox's control API → the page turns to done
  by itself, over Server-Sent Events, without a reload.

Each state is saved as ``test-artifacts/cashier-<road>-<state>.png``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Request, expect

from tests.browser.support import (
    DESKTOP,
    DESKTOP_UA,
    PHONE,
    PHONE_UA,
    WECHAT_UA,
    Cashier,
    screenshot,
)

pytestmark = pytest.mark.browser

PAID_WITHIN_MS = 15_000


def test_wechat_browser_oauth_then_jsapi_then_paid(
    cashier: Cashier, browser: Browser, artifacts: Path
) -> None:
    order, url = cashier.link(amount=2590)
    context = browser.new_context(user_agent=WECHAT_UA, locale="zh-CN", **PHONE)
    page = context.new_page()
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    page.goto(url)
    sheet = page.locator("#paydesk-sandbox-paysheet")
    expect(sheet).to_be_visible(timeout=PAID_WITHIN_MS)
    assert any("/sandbox/connect/oauth2/authorize?" in seen for seen in visited)
    assert page.url.startswith(f"{url}/oauth?")  # the JSAPI page is our OAuth callback
    expect(page.locator(".due-amount")).to_have_text("¥25.90")
    screenshot(page, artifacts, "jsapi-sheet")
    page.locator("#paydesk-sandbox-pay").click()
    page.wait_for_url(f"{url}/result?r=ok", timeout=PAID_WITHIN_MS)
    expect(page.locator("body")).to_have_attribute("data-phase", "paid", timeout=PAID_WITHIN_MS)
    expect(page.locator(".when-paid h1")).to_have_text("支付成功")
    screenshot(page, artifacts, "jsapi-paid")
    assert cashier.order(order["id"])["state"] == "PAID"
    context.close()


def test_phone_browser_h5_sheet_and_back_paid(
    cashier: Cashier, browser: Browser, artifacts: Path
) -> None:
    order, url = cashier.link(amount=880, description="咖啡 Coffee")
    context = browser.new_context(user_agent=PHONE_UA, locale="zh-CN", **PHONE)
    page = context.new_page()
    page.goto(url)
    page.wait_for_url("**/sandbox/_sandbox/checkmweb?**", timeout=PAID_WITHIN_MS)
    redirect = parse_qs(urlsplit(page.url).query)["redirect_url"]
    assert redirect == [f"{url}/result"]
    expect(page.locator(".amount")).to_contain_text("8.80")
    screenshot(page, artifacts, "h5-sheet")
    page.locator('button[name="result"][value="SUCCESS"]').click()
    page.wait_for_url(f"{url}/result", timeout=PAID_WITHIN_MS)
    expect(page.locator("body")).to_have_attribute("data-phase", "paid", timeout=PAID_WITHIN_MS)
    screenshot(page, artifacts, "h5-paid")
    assert cashier.order(order["id"])["state"] == "PAID"
    context.close()


def test_desktop_qr_turns_to_done_without_a_reload(
    cashier: Cashier, browser: Browser, artifacts: Path
) -> None:
    order, url = cashier.link(amount=129900, description="年度会员 Annual membership")
    context = browser.new_context(user_agent=DESKTOP_UA, locale="zh-CN", **DESKTOP)
    page = context.new_page()
    asked: list[Request] = []
    page.on("request", lambda request: asked.append(request))
    page.goto(url)
    expect(page.locator(".qr-card svg")).to_be_visible()
    expect(page.locator(".due-amount")).to_have_text("¥1,299.00")
    expect(page.locator(".payee-name")).to_contain_text("Sandbox merchant")
    expect(page.locator(".scan-title")).to_have_text("请使用微信扫一扫付款")
    page.wait_for_function("() => performance.getEntriesByType('resource').length > 0")
    screenshot(page, artifacts, "native-qr")

    page.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates
    scan = page.locator("#sandbox-scan").get_attribute("href") or ""
    code_url = parse_qs(urlsplit(scan).query)["code_url"][0]
    paid = cashier.sandbox("POST", "/_sandbox/pay", json={"code_url": code_url})
    assert paid.status_code == 200, paid.text

    expect(page.locator("body")).to_have_attribute("data-phase", "paid", timeout=PAID_WITHIN_MS)
    expect(page.locator(".when-paid h1")).to_be_visible()
    expect(page.locator(".qr-card")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True
    documents = [r for r in asked if r.resource_type == "document"]
    assert [r.url for r in documents] == [url]
    streams = [r.url for r in asked if r.url == f"{url}/events"]
    assert streams, "the page did not open the event stream"
    assert not [r for r in asked if r.url.endswith("/status")], "SSE worked: no polling needed"
    screenshot(page, artifacts, "native-done")
    assert cashier.order(order["id"])["state"] == "PAID"
    context.close()


def test_english_and_a_closed_order(cashier: Cashier, browser: Browser, artifacts: Path) -> None:
    order, url = cashier.link(amount=4500, description="Monthly plan")
    context = browser.new_context(user_agent=DESKTOP_UA, locale="en-US", **DESKTOP)
    page = context.new_page()
    page.goto(url)
    expect(page.locator(".scan-title")).to_have_text("Scan with WeChat to pay")
    screenshot(page, artifacts, "native-qr-en")
    closed = cashier.close(order["id"])
    assert closed["state"] == "CLOSED"
    expect(page.locator("body")).to_have_attribute("data-phase", "closed", timeout=PAID_WITHIN_MS)
    expect(page.locator(".when-closed h1")).to_have_text("Order closed")
    screenshot(page, artifacts, "native-closed-en")
    context.close()


def test_desktop_qr_turns_to_expired_when_time_runs_out(
    cashier: Cashier, browser: Browser, artifacts: Path
) -> None:
    _, url = cashier.link(amount=1500, description="限时优惠 Flash deal", expires_in=120)
    context = browser.new_context(user_agent=DESKTOP_UA, locale="zh-CN", **DESKTOP)
    page = context.new_page()
    page.goto(url)
    expect(page.locator(".qr-card svg")).to_be_visible()
    cashier.clock.advance(121)  # the app's clock: the order's time to pay is over
    try:
        expect(page.locator("body")).to_have_attribute(
            "data-phase", "expired", timeout=PAID_WITHIN_MS
        )
        expect(page.locator(".when-expired h1")).to_have_text("订单已过期")
        expect(page.locator(".qr-card")).to_be_hidden()
        screenshot(page, artifacts, "native-expired")
    finally:
        cashier.clock.advance(-121)
        context.close()
