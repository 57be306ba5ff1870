"""The simulated payer: three ways to find the order, three results, and the client's checks."""

from __future__ import annotations

import time
from typing import Any

import pytest

from paydesk.protocol.keys import load_private_key
from paydesk.protocol.v2.pay_params import app_pay_params_v2, jsapi_pay_params_v2
from paydesk.protocol.v3.pay_params import app_pay_params, miniprogram_pay_params
from paydesk.sandbox.credentials import DEFAULT_OFFICIAL_ACCOUNT_APPID
from paydesk.sandbox.pay.payer import parse_pay_request
from paydesk.sandbox.pay.refusals import Refusal


def _signed_v3(v3: Any, prepay_id: str, appid: str) -> dict[str, str]:
    params = miniprogram_pay_params(
        appid=appid,
        prepay_id=prepay_id,
        private_key=load_private_key(v3.creds.merchant_private_key_pem),
        timestamp=int(time.time()),
        nonce="PAYNONCE1",
    )
    return {
        "prepay_id": prepay_id,
        "pay_sign": params["paySign"],
        "timestamp": params["timeStamp"],
        "nonce_str": params["nonceStr"],
        "sign_type": params["signType"],
    }


async def test_paying_a_prepay_id_queues_the_notification(v3: Any, sandbox: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00001")).json()["prepay_id"]
    answer = (await v3.pay(**_signed_v3(v3, prepay_id, v3.order("x")["appid"]))).json()
    assert answer["result"] == "SUCCESS"
    assert answer["err_msg"] == "requestPayment:ok"
    assert answer["trade_state"] == "SUCCESS"
    assert answer["openid"] == "oPAYER000000000000000000001"
    assert answer["notification"]["event_type"] == "TRANSACTION.SUCCESS"
    assert answer["notification"]["url"] == "http://merchant.test/notify/v3"


async def test_a_wrong_pay_sign_is_refused_with_wechats_message(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00002")).json()["prepay_id"]
    signed = _signed_v3(v3, prepay_id, "wx_not_the_prepay_appid")
    response = await v3.pay(**signed)
    assert response.status_code == 400
    assert response.json() == {
        "code": "SIGN_ERROR",
        "message": "支付验证签名失败",
        "err_msg": "requestPayment:fail 支付验证签名失败",
    }
    assert (await v3.query("T_PAY00002")).json()["trade_state"] == "NOTPAY"


async def test_official_account_pages_see_get_brand_wcpay_request(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00003", appid=DEFAULT_OFFICIAL_ACCOUNT_APPID)).json()[
        "prepay_id"
    ]
    bad = await v3.pay(**_signed_v3(v3, prepay_id, "wx_other"))
    good = await v3.pay(**_signed_v3(v3, prepay_id, DEFAULT_OFFICIAL_ACCOUNT_APPID))
    assert bad.json()["err_msg"] == "get_brand_wcpay_request:fail"
    assert good.json()["err_msg"] == "get_brand_wcpay_request:ok"


async def test_a_v3_pay_sign_must_say_rsa(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00004")).json()["prepay_id"]
    signed = _signed_v3(v3, prepay_id, v3.order("x")["appid"]) | {"sign_type": "MD5"}
    assert (await v3.pay(**signed)).json()["code"] == "SIGN_ERROR"


async def test_app_payments_check_the_app_sign(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00005", "app")).json()["prepay_id"]
    params = app_pay_params(
        appid=v3.order("x")["appid"],
        mchid=v3.mchid,
        prepay_id=prepay_id,
        private_key=load_private_key(v3.creds.merchant_private_key_pem),
        timestamp=1700000000,
        nonce="N",
    )
    wrong = await v3.pay(
        prepay_id=prepay_id, pay_sign=params["sign"], timestamp="1700000001", nonce_str="N"
    )
    right = await v3.pay(
        prepay_id=prepay_id, pay_sign=params["sign"], timestamp="1700000000", nonce_str="N"
    )
    assert wrong.json()["err_msg"] == "fail"
    assert right.json()["err_msg"] == "ok"


async def test_v2_pay_sign_uses_the_orders_sign_type(v2: Any, v2_hmac: Any) -> None:
    for client in (v2, v2_hmac):
        prepay_id = (await client.unifiedorder("T_PAY00006"))["prepay_id"]
        params = jsapi_pay_params_v2(
            appid="wx5a0d5a0d00000001",
            prepay_id=prepay_id,
            key=client.creds.v2_key,
            sign_type=client.sign_type,
            timestamp=1700000000,
            nonce="N2",
        )
        fields = {"prepay_id": prepay_id, "timestamp": "1700000000", "nonce_str": "N2"}
        wrong = await client.client.post(
            "/_sandbox/pay", json=fields | {"pay_sign": params["paySign"][::-1]}
        )
        right = await client.client.post(
            "/_sandbox/pay", json=fields | {"pay_sign": params["paySign"], "timestamp": 1700000000}
        )
        assert wrong.json()["message"] == "支付验证签名失败"
        assert right.json()["result"] == "SUCCESS"


async def test_v2_app_sign(v2: Any) -> None:
    prepay_id = (await v2.unifiedorder("T_PAY00007", trade_type="APP"))["prepay_id"]
    params = app_pay_params_v2(
        appid="wx5a0d5a0d00000001",
        mchid=v2.creds.mchid,
        prepay_id=prepay_id,
        key=v2.creds.v2_key,
        sign_type="MD5",
        timestamp=1700000000,
        nonce="N3",
    )
    fields = {"prepay_id": prepay_id, "timestamp": "1700000000", "nonce_str": "N3"}
    response = await v2.client.post("/_sandbox/pay", json=fields | {"pay_sign": params["sign"]})
    assert response.json()["result"] == "SUCCESS"


async def test_native_and_h5_are_paid_by_their_urls(v3: Any) -> None:
    native = await v3.paid(
        "T_PAY00008",
        "native",
    )
    h5 = await v3.paid("T_PAY00009", "h5")
    assert native["result"] == h5["result"] == "SUCCESS"
    assert native["err_msg"] == h5["err_msg"] == "ok"
    assert native["openid"].startswith("o")
    assert len(native["openid"]) == 28


async def test_pay_sign_is_for_jsapi_and_app_only(v3: Any) -> None:
    code_url = (await v3.prepay("T_PAY00010", "native")).json()["code_url"]
    response = await v3.pay(code_url=code_url, pay_sign="x", timestamp="1", nonce_str="n")
    assert response.json()["code"] == "PARAM_ERROR"


async def test_pay_sign_needs_timestamp_and_nonce(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00011")).json()["prepay_id"]
    response = await v3.pay(prepay_id=prepay_id, pay_sign="x")
    assert response.json()["code"] == "PARAM_ERROR"


async def test_cancel_and_fail_leave_the_order_unpaid_without_notification(
    v3: Any, sandbox: Any
) -> None:
    prepay_id = (await v3.prepay("T_PAY00012")).json()["prepay_id"]
    cancel = (await v3.pay(prepay_id=prepay_id, result="CANCEL")).json()
    fail = (await v3.pay(prepay_id=prepay_id, result="FAIL")).json()
    assert (cancel["err_msg"], cancel["notification"]) == ("requestPayment:fail cancel", None)
    assert fail["err_msg"] == "requestPayment:fail 支付失败"
    assert (await v3.query("T_PAY00012")).json()["trade_state"] == "NOTPAY"
    assert sandbox.pay.dispatcher.deliveries == []
    native = (await v3.prepay("T_PAY00013", "native")).json()["code_url"]
    assert (await v3.pay(code_url=native, result="CANCEL")).json()["err_msg"] == "cancel"
    assert (await v3.pay(code_url=native, result="FAIL")).json()["err_msg"] == "fail"


async def test_a_jsapi_payer_must_be_the_prepay_payer(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_PAY00014")).json()["prepay_id"]
    response = await v3.pay(prepay_id=prepay_id, openid="oSOMEONE_ELSE")
    assert response.json()["code"] == "OPENID_MISMATCH"
    assert response.json()["message"] == "下单账号与支付账号不一致，请核实后再支付"


async def test_paid_closed_and_expired_orders_cannot_be_paid(v3: Any, sandbox: Any) -> None:
    paid = (await v3.prepay("T_PAY00015")).json()["prepay_id"]
    await v3.pay(prepay_id=paid)
    closed = (await v3.prepay("T_PAY00016")).json()["prepay_id"]
    await v3.call("POST", "/v3/pay/transactions/out-trade-no/T_PAY00016/close", {"mchid": v3.mchid})
    assert (await v3.pay(prepay_id=paid)).json()["code"] == "ORDER_PAID"
    assert (await v3.pay(prepay_id=closed)).json()["code"] == "ORDER_CLOSED"
    lapsed = (await v3.prepay("T_PAY00017")).json()["prepay_id"]
    sandbox.clock.advance(2 * 3600)
    assert (await v3.pay(prepay_id=lapsed)).json()["code"] == "PREPAY_EXPIRED"
    fresh = (await v3.prepay("T_PAY00017")).json()["prepay_id"]
    assert (await v3.pay(prepay_id=lapsed)).json()["code"] == "PREPAY_EXPIRED"
    assert (await v3.pay(prepay_id=fresh)).json()["result"] == "SUCCESS"


async def test_an_h5_url_lapses_after_five_minutes(v3: Any, sandbox: Any) -> None:
    h5_url = (await v3.prepay("T_PAY00018", "h5")).json()["h5_url"]
    sandbox.clock.advance(5 * 60)
    response = await v3.pay(h5_url=h5_url)
    assert response.json()["code"] == "PREPAY_EXPIRED"
    assert response.json()["err_msg"] == "fail"


@pytest.mark.parametrize(
    "body",
    [
        {"prepay_id": "wx_unknown"},
        {"code_url": "weixin://wxpay/bizpayurl?pr=nope"},
        {"code_url": "https://example.com/x"},
        {"h5_url": "http://sandbox.test/_sandbox/checkmweb?prepay_id=wx_unknown&package=1"},
    ],
)
async def test_unknown_prepays_are_404(v3: Any, body: dict[str, str]) -> None:
    response = await v3.pay(**body)
    assert response.status_code == 404
    assert response.json()["err_msg"] == "fail"


async def test_an_h5_url_with_the_wrong_package_is_unknown(v3: Any) -> None:
    h5_url = (await v3.prepay("T_PAY00019", "h5")).json()["h5_url"]
    response = await v3.pay(h5_url=h5_url.split("&package=")[0] + "&package=0")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prepay_id": "p", "result": "MAYBE"}, "result must be"),
        ({"prepay_id": 5}, "prepay_id must be a non-empty string"),
        ({"prepay_id": "p", "timestamp": "soon"}, "timestamp must be Unix seconds"),
        ({"prepay_id": "p", "timestamp": True}, "timestamp must be Unix seconds"),
        ({}, "exactly one of"),
        ({"prepay_id": "p", "code_url": "c"}, "exactly one of"),
    ],
)
def test_parse_pay_request_refuses_bad_input(data: dict[str, Any], message: str) -> None:
    with pytest.raises(Refusal, match=message):
        parse_pay_request(data)


async def test_the_control_api_refuses_a_body_that_is_not_json(v3: Any) -> None:
    response = await v3.client.post("/_sandbox/pay", content=b"[1]")
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == "*"
