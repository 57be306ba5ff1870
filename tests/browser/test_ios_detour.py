"""The iOS detour end to end, in headless Chromium against ``paydesk serve`` over real HTTP.

An iPhone user sends the order's mini program card to customer service (the sandbox pushes it
to paydesk, encrypted); paydesk answers with a link message; the same person opens the link
in WeChat's browser → OAuth through the official account → the JSAPI page and the
``WeixinJSBridge`` stand-in's pay sheet → Pay → the result page says the server's word: paid.

Screenshots: ``test-artifacts/ios-detour-<state>.png`` (the link message as the user sees it,
the pay sheet over the JSAPI page, the paid result).
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.support import WECHAT_UA, Cashier
from tests.stack import MINI_APPID, OA_APPID

pytestmark = pytest.mark.browser

WITHIN_MS = 15_000


@pytest.fixture(scope="module")
def shots() -> Path:
    """``test-artifacts/``, emptied of this test's old screenshots."""
    folder = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("ios-detour-*.png"):
        old.unlink()
    return folder


def sandbox_ok(cashier: Cashier, method: str, path: str, **kwargs: Any) -> Any:
    answer = cashier.sandbox(method, path, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def link_message(cashier: Cashier, openid: str) -> dict[str, Any]:
    """The customer-service link paydesk sent ``openid`` (the work runs after the push's
    answer, so it may take a moment)."""
    deadline = time.monotonic() + WITHIN_MS / 1000
    while time.monotonic() < deadline:
        found = sandbox_ok(cashier, "GET", "/_sandbox/messages", params={"touser": openid})
        links = [m["body"]["link"] for m in found["messages"] if m["msgtype"] == "link"]
        if links:
            link: dict[str, Any] = links[0]
            return link
        time.sleep(0.1)
    raise AssertionError(f"no link message reached {openid} in time")


def chat_view(link: dict[str, Any]) -> str:
    """The link message drawn as WeChat's chat shows a link card (for the screenshot only)."""
    text = {name: html.escape(str(value)) for name, value in link.items()}
    lines = "<br>".join(text["description"].split("\n"))
    return f"""<!doctype html><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<body style="margin:0;background:#ededed;font:15px -apple-system,'Noto Sans CJK SC',sans-serif">
<div style="text-align:center;padding:12px;background:#f7f7f7;font-weight:600">客服消息</div>
<div style="display:flex;gap:8px;padding:16px 12px">
  <div style="width:40px;height:40px;border-radius:6px;background:#07c160;flex:none"></div>
  <a href="{text["url"]}" style="display:block;width:250px;background:#fff;border-radius:6px;
     padding:12px;color:#191919;text-decoration:none">
    <div style="font-size:16px;margin-bottom:8px">{text["title"]}</div>
    <div style="display:flex;gap:8px;color:#888;font-size:13px">
      <div style="flex:1">{lines}</div>
      <img src="{text["thumb_url"]}" width="48" height="48" style="border-radius:4px">
    </div>
  </a>
</div>
<p style="color:#999;font-size:12px;text-align:center">paydesk sandbox: the message as sent
 through /cgi-bin/message/custom/send</p></body>"""


def test_a_card_on_customer_service_becomes_a_paid_order(
    cashier: Cashier, browser: Browser, shots: Path
) -> None:
    # The mini program's pushes come to paydesk, in safe mode (the embedded configuration).
    push_url = f"{cashier.base_url}/wechat/push/{MINI_APPID}"
    sandbox_ok(cashier, "PUT", "/_sandbox/push-url", json={"appid": MINI_APPID, "url": push_url})
    person = sandbox_ok(cashier, "POST", "/_sandbox/login-code", json={"appid": MINI_APPID})
    order, _ = cashier.link(amount=1990, description="年度会员 Annual membership")

    pushed = sandbox_ok(
        cashier,
        "POST",
        "/_sandbox/push",
        json={
            "appid": MINI_APPID,
            "openid": person["openid"],
            "message": {
                "MsgType": "miniprogrampage",
                "Title": "年度会员 ¥19.90",
                "PagePath": f"pages/pay/pay?order={order['id']}",
            },
            "mode": "safe",
            "format": "json",
        },
    )
    assert pushed["delivered"] is True, pushed
    assert [a["response"] for a in pushed["attempts"]] == ["success"]
    link = link_message(cashier, person["openid"])
    assert link["url"].startswith(f"{cashier.base_url}/pay/")
    assert "¥19.90" in link["description"]

    context = browser.new_context(
        user_agent=WECHAT_UA,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
    )
    page = context.new_page()
    page.set_content(chat_view(link))
    expect(page.locator("img")).to_have_js_property("complete", True)
    page.screenshot(path=str(shots / "ios-detour-link.png"))

    # The same person, in WeChat's browser: the sandbox knows them by its cookie.
    me = page.goto(f"{cashier.base_url}/sandbox/_sandbox/as-user?unionid={person['unionid']}")
    assert me is not None
    assert me.ok, me.text()
    oa_openid = me.json()["openids"][OA_APPID]
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    page.goto(link["url"])
    expect(page.locator("#paydesk-sandbox-paysheet")).to_be_visible(timeout=WITHIN_MS)
    assert any("/sandbox/connect/oauth2/authorize?" in url for url in visited)
    assert page.url.startswith(f"{link['url']}/oauth?")
    expect(page.locator(".due-amount")).to_have_text("¥19.90")
    page.screenshot(path=str(shots / "ios-detour-sheet.png"), full_page=True)

    page.locator("#paydesk-sandbox-pay").click()
    page.wait_for_url(f"{link['url']}/result**", timeout=WITHIN_MS)
    expect(page.locator("body")).to_have_attribute("data-phase", "paid", timeout=WITHIN_MS)
    expect(page.locator(".when-paid h1")).to_have_text("支付成功")
    page.screenshot(path=str(shots / "ios-detour-paid.png"), full_page=True)
    context.close()

    paid = cashier.order(order["id"])
    assert paid["state"] == "PAID"
    assert paid["payer"] == {"openid": oa_openid, "appid": OA_APPID}
    for name in ("link", "sheet", "paid"):
        assert (shots / f"ios-detour-{name}.png").stat().st_size > 1000
