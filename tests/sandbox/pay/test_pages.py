"""Pages for people: pay sheets (JSAPI, H5 checkmweb, Native scan), the log, the JS bridge —
the bridge driven in headless Chromium against the sandbox over real HTTP."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from paydesk.protocol.keys import load_private_key
from paydesk.protocol.v3.pay_params import jsapi_pay_params
from paydesk.sandbox.credentials import DEFAULT_OFFICIAL_ACCOUNT_APPID
from tests.sandbox.signing import signed_v3_post


async def test_the_pay_sheet_shows_the_order_and_pays_through_the_payer(
    v3: Any, sandbox: Any
) -> None:
    prepay_id = (await v3.prepay("T_PAG00001", description="一杯咖啡")).json()["prepay_id"]
    page = await v3.client.get(f"/_sandbox/pay-sheet?prepay_id={prepay_id}")
    assert page.status_code == 200
    assert "¥1.00" in page.text
    assert "一杯咖啡" in page.text
    assert 'action="http://sandbox.test/_sandbox/pay-sheet"' in page.text
    assert "oPAYER000000000000000000001" in page.text
    paid = await v3.client.post(
        "/_sandbox/pay-sheet", data={"prepay_id": prepay_id, "result": "SUCCESS"}
    )
    assert paid.status_code == 200
    assert "支付成功 · Paid" in paid.text
    assert "requestPayment:ok" in paid.text
    assert (await v3.query("T_PAG00001")).json()["trade_state"] == "SUCCESS"
    assert len(sandbox.pay.dispatcher.deliveries) == 1
    done = await v3.client.get(f"/_sandbox/pay-sheet?prepay_id={prepay_id}")
    assert "立即支付" not in done.text  # no buttons once paid


async def test_the_sheet_reports_a_refusal(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAG00002")).json()["prepay_id"]
    await v3.pay(prepay_id=prepay_id)
    again = await v3.client.post(
        "/_sandbox/pay-sheet", data={"prepay_id": prepay_id, "result": "SUCCESS"}
    )
    assert again.status_code == 400
    assert "该订单已支付" in again.text


async def test_cancel_and_fail_from_the_sheet(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAG00003")).json()["prepay_id"]
    cancel = await v3.client.post(
        "/_sandbox/pay-sheet", data={"prepay_id": prepay_id, "result": "CANCEL"}
    )
    fail = await v3.client.post(
        "/_sandbox/pay-sheet", data={"prepay_id": prepay_id, "result": "FAIL"}
    )
    assert "已取消 · Cancelled" in cancel.text
    assert "支付失败 · Payment failed" in fail.text


async def test_unknown_prepays_show_a_404_page(v3: Any) -> None:
    for url in (
        "/_sandbox/pay-sheet?prepay_id=nope",
        "/_sandbox/checkmweb?prepay_id=nope&package=1",
        "/_sandbox/scan?code_url=weixin://wxpay/bizpayurl?pr=nope",
        "/_sandbox/scan?code_url=https://example.com",
    ):
        response = await v3.client.get(url)
        assert response.status_code == 404
        assert "无法支付" in response.text


async def test_checkmweb_returns_to_redirect_url(v3: Any) -> None:
    h5_url = (await v3.prepay("T_PAG00004", "h5")).json()["h5_url"]
    back = "https://shop.test/result?order=T_PAG00004"
    sheet = await v3.client.get(h5_url + "&redirect_url=" + quote(back, safe=""))
    assert sheet.status_code == 200
    assert 'name="redirect_url" value="https://shop.test/result?order=T_PAG00004"' in sheet.text
    posted = await v3.client.post(
        "/_sandbox/pay-sheet", data={"h5_url": h5_url, "result": "SUCCESS", "redirect_url": back}
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == back
    assert (await v3.query("T_PAG00004")).json()["trade_state"] == "SUCCESS"


async def test_checkmweb_without_redirect_shows_the_result(v3: Any) -> None:
    h5_url = (await v3.prepay("T_PAG00005", "h5")).json()["h5_url"]
    sheet = await v3.client.get(h5_url)
    assert "redirect_url" not in sheet.text
    posted = await v3.client.post(
        "/_sandbox/pay-sheet", data={"h5_url": h5_url, "result": "CANCEL"}
    )
    assert posted.status_code == 200


@pytest.mark.parametrize("target", ["javascript:alert(1)", "/relative", "ftp://x/y"])
async def test_checkmweb_refuses_a_redirect_that_is_not_http(v3: Any, target: str) -> None:
    h5_url = (await v3.prepay("T_PAG00006", "h5")).json()["h5_url"]
    sheet = await v3.client.get(h5_url + "&redirect_url=" + quote(target, safe=""))
    assert sheet.status_code == 400


async def test_checkmweb_with_a_wrong_package_is_invalid(v3: Any) -> None:
    h5_url = (await v3.prepay("T_PAG00007", "h5")).json()["h5_url"]
    response = await v3.client.get(h5_url.split("&package=")[0] + "&package=1")
    assert response.status_code == 404


async def test_the_native_landing_pays_a_code_url_with_a_chosen_openid(v3: Any) -> None:
    code_url = (await v3.prepay("T_PAG00008", "native")).json()["code_url"]
    sheet = await v3.client.get("/_sandbox/scan", params={"code_url": code_url})
    assert sheet.status_code == 200
    assert 'name="openid"' in sheet.text
    await v3.client.post(
        "/_sandbox/pay-sheet", data={"code_url": code_url, "result": "SUCCESS", "openid": "oMINE"}
    )
    assert (await v3.query("T_PAG00008")).json()["payer"]["openid"] == "oMINE"


async def test_a_huge_form_is_refused(v3: Any) -> None:
    response = await v3.client.post("/_sandbox/pay-sheet", content=b"a=" + b"x" * 9000)
    assert response.status_code == 413


async def test_the_log_shows_orders_refunds_and_attempts_and_refreshes(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    receiver.status = 500
    await v3.paid("T_PAG00009")
    await v3.prepay("T_PAG00010")
    await sandbox.pay.drain(5)
    amount = {"refund": 10, "total": 100, "currency": "CNY"}
    refund = {"out_trade_no": "T_PAG00009", "out_refund_no": "R_PAG01", "amount": amount}
    await v3.call("POST", "/v3/refund/domestic/refunds", refund)
    for path in ("/_sandbox/", "/_sandbox/log"):
        page = await v3.client.get(path)
        assert page.status_code == 200
        assert '<meta http-equiv="refresh" content="3">' in page.text
        assert "T_PAG00009" in page.text
        assert "T_PAG00010" in page.text
        assert "R_PAG01" in page.text
        assert "TRANSACTION.SUCCESS" in page.text
        assert "15s 15s 30s 3m 10m 20m 30m 30m 30m 1h 3h 3h 3h 6h 6h" in page.text
    filtered = await v3.client.get("/_sandbox/log?out_trade_no=T_PAG00010&refresh=0")
    assert "T_PAG00009" not in filtered.text
    assert "http-equiv" not in filtered.text
    odd = await v3.client.get("/_sandbox/log?refresh=forever")
    assert 'content="3"' in odd.text


async def test_the_log_is_empty_at_first(sandbox_client: httpx.AsyncClient) -> None:
    page = await sandbox_client.get("/_sandbox/log")
    assert "暂无订单 · no orders yet" in page.text
    assert "暂无通知 · no notifications yet" in page.text


async def test_the_js_bridge_is_served(sandbox_client: httpx.AsyncClient) -> None:
    script = await sandbox_client.get("/_sandbox/jsbridge.js")
    assert script.headers["content-type"].startswith("application/javascript")
    assert "WeixinJSBridgeReady" in script.text
    assert "getBrandWCPayRequest" in script.text


async def test_mounted_pages_link_with_the_mount_prefix(sandbox: Any, v3: Any) -> None:
    host = Starlette(routes=[Mount("/sandbox", app=sandbox.asgi())])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host), base_url="http://host.test/sandbox"
    ) as client:
        mounted = type(v3)(client, v3.creds)
        h5_url = (await mounted.prepay("T_PAG00011", "h5")).json()["h5_url"]
        sheet = await client.get(h5_url.removeprefix("http://host.test/sandbox"))
    assert 'action="http://host.test/sandbox/_sandbox/pay-sheet"' in sheet.text
    assert 'value="http://host.test/sandbox/_sandbox/checkmweb?' in sheet.text


# -- the JS bridge in a real browser ---------------------------------------------------------------


def _jsapi_order(base: str, creds: Any, number: str) -> str:
    url = "/v3/pay/transactions/jsapi"
    body, headers = signed_v3_post(
        creds,
        url,
        {
            "appid": DEFAULT_OFFICIAL_ACCOUNT_APPID,
            "mchid": creds.mchid,
            "description": "浏览器测试",
            "out_trade_no": number,
            "notify_url": "http://127.0.0.1:9/n",
            "amount": {"total": 1234},
            "payer": {"openid": "oBROWSER"},
        },
    )
    response = httpx.post(base + url, content=body, headers=headers)
    prepay_id: str = response.json()["prepay_id"]
    return prepay_id


def _params(
    creds: Any, prepay_id: str, *, appid: str = DEFAULT_OFFICIAL_ACCOUNT_APPID
) -> dict[str, str]:
    return jsapi_pay_params(
        appid=appid,
        prepay_id=prepay_id,
        timestamp=int(time.time()),
        nonce="BROWSERNONCE",
        private_key=load_private_key(creds.merchant_private_key_pem),
    )


@pytest.mark.browser
def test_the_js_bridge_pays_cancels_and_refuses_a_bad_pay_sign(sandbox_server: Any) -> None:
    from playwright.sync_api import sync_playwright

    box, server = sandbox_server
    creds = box.credentials.merchants[0]
    orders = {
        name: _jsapi_order(server.base_url, creds, f"T_BRW0000{n}")
        for n, name in enumerate(("pay", "cancel", "bad"))
    }
    calls = {
        "pay": (_params(creds, orders["pay"]), "#paydesk-sandbox-pay"),
        "cancel": (_params(creds, orders["cancel"]), "#paydesk-sandbox-cancel"),
        "bad": (_params(creds, orders["bad"], appid="wx_not_this_one"), "#paydesk-sandbox-pay"),
    }
    page_html = f"""<!doctype html><html><body><p id="state">waiting</p>
      <script>document.addEventListener('WeixinJSBridgeReady', function () {{
        document.getElementById('state').textContent = 'ready'; }});</script>
      <script src="{server.base_url}/_sandbox/jsbridge.js"></script></body></html>"""
    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.set_content(page_html)
            page.wait_for_function("document.getElementById('state').textContent === 'ready'")
            for name, (params, button) in calls.items():
                page.evaluate(
                    "p => { window.result = null; WeixinJSBridge.invoke('getBrandWCPayRequest', p,"
                    " r => { window.result = r; }); }",
                    params,
                )
                page.wait_for_selector(button)
                if name == "pay":
                    assert "¥12.34" in page.inner_text("#paydesk-sandbox-paysheet")
                page.click(button)
                page.wait_for_function("window.result !== null")
                results[name] = page.evaluate("window.result")
        finally:
            browser.close()
    assert results["pay"] == {"err_msg": "get_brand_wcpay_request:ok"}
    assert results["cancel"] == {"err_msg": "get_brand_wcpay_request:cancel"}
    assert results["bad"] == {
        "err_msg": "get_brand_wcpay_request:fail",
        "err_desc": "支付验证签名失败",
    }
    states = {
        o["out_trade_no"]: o["state"]
        for o in httpx.get(server.base_url + "/_sandbox/orders").json()["orders"]
    }
    assert states == {"T_BRW00000": "SUCCESS", "T_BRW00001": "NOTPAY", "T_BRW00002": "NOTPAY"}
