"""wechatpy (unmodified) Pay v2 against the sandbox over real HTTP.

The SDK is pointed at the sandbox by setting the instance's ``API_BASE_URL``. It signs with
MD5, parses the sandbox's XML, raises ``WeChatPayException`` on ``result_code`` FAIL, and checks
the sandbox's v2 notifications with ``parse_payment_result`` / ``parse_refund_notify_result``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

from paydesk.protocol.v2.notify import NOTIFY_SUCCESS_XML
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID

OPENID = "oCOMPAT000000000000000000002"


@pytest.fixture
def wechat(sandbox_server: Any, receiver: Any) -> tuple[WeChatPay, str]:
    box, server = sandbox_server
    creds = box.credentials.merchants[0]
    client = WeChatPay(appid=DEFAULT_MINIPROGRAM_APPID, api_key=creds.v2_key, mch_id=creds.mchid)
    client.API_BASE_URL = server.base_url + "/"
    receiver.status, receiver.body = 200, NOTIFY_SUCCESS_XML
    return client, server.base_url


def _create(client: WeChatPay, number: str, notify_url: str, total: int = 100) -> dict[str, Any]:
    result: dict[str, Any] = client.order.create(
        trade_type="JSAPI",
        body="兼容性测试",
        total_fee=total,
        notify_url=notify_url,
        client_ip="127.0.0.1",
        user_id=OPENID,
        out_trade_no=number,
    )
    return result


def test_unifiedorder_orderquery_closeorder(
    wechat: tuple[WeChatPay, str], receiver_server: Any
) -> None:
    client, _ = wechat
    created = _create(client, "T_WXPY_0001", receiver_server.base_url + "/notify")
    assert created["result_code"] == "SUCCESS"
    assert created["prepay_id"].startswith("wx")
    assert client.check_signature(created)  # the answer's sign, checked by wechatpy itself
    queried = client.order.query(out_trade_no="T_WXPY_0001")
    assert queried["trade_state"] == "NOTPAY"
    closed = client.order.close(out_trade_no="T_WXPY_0001")
    assert closed["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no="T_WXPY_0001")["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayException) as caught:
        client.order.query(out_trade_no="T_WXPY_NOPE")
    assert caught.value.errcode == "ORDERNOTEXIST"


def test_the_payment_notification_parses_and_closing_a_paid_order_fails(
    wechat: tuple[WeChatPay, str], receiver_server: Any, receiver: Any
) -> None:
    client, base = wechat
    created = _create(client, "T_WXPY_0002", receiver_server.base_url + "/notify", 250)
    httpx.post(base + "/_sandbox/pay", json={"prepay_id": created["prepay_id"], "openid": OPENID})
    [notified] = receiver.wait_for(1)
    result = client.parse_payment_result(notified["body"])
    assert (result["out_trade_no"], result["total_fee"], result["openid"]) == (
        "T_WXPY_0002",
        250,
        OPENID,
    )
    assert result["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no="T_WXPY_0002")["trade_state"] == "SUCCESS"
    with pytest.raises(WeChatPayException) as caught:
        client.order.close(out_trade_no="T_WXPY_0002")
    assert caught.value.errcode == "ORDERPAID"


def test_refund_and_its_encrypted_notification(
    wechat: tuple[WeChatPay, str], receiver_server: Any, receiver: Any
) -> None:
    client, base = wechat
    created = _create(client, "T_WXPY_0003", receiver_server.base_url + "/notify")
    httpx.post(base + "/_sandbox/pay", json={"prepay_id": created["prepay_id"]})
    receiver.wait_for(1)
    refund = client.refund.apply(
        total_fee=100,
        refund_fee=40,
        out_refund_no="R_WXPY_0003",
        out_trade_no="T_WXPY_0003",
        notify_url=receiver_server.base_url + "/refund",
    )
    assert refund["result_code"] == "SUCCESS"
    httpx.post(base + "/_sandbox/clock", json={"advance_seconds": 5})
    [_, notified] = receiver.wait_for(2)
    assert notified["path"] == "/refund"
    result = client.parse_refund_notify_result(notified["body"])
    assert (result["out_refund_no"], result["refund_fee"], result["refund_status"]) == (
        "R_WXPY_0003",
        40,
        "SUCCESS",
    )
    queried = client.refund.query(out_refund_no="R_WXPY_0003")
    assert queried["refund_status_0"] == "SUCCESS"
