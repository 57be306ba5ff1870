"""v2 unified order on four trade types, re-entry, query, close and the v2 payment notify."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from paydesk.protocol.times import to_v2_time
from paydesk.protocol.v2.notify import NOTIFY_SUCCESS_XML, parse_payment_notification


async def test_jsapi_unifiedorder(v2: Any) -> None:
    answer = await v2.unifiedorder("T_V2O00001")
    assert (answer["return_code"], answer["return_msg"], answer["result_code"]) == (
        "SUCCESS",
        "OK",
        "SUCCESS",
    )
    assert answer["trade_type"] == "JSAPI"
    assert answer["prepay_id"].startswith("wx")
    assert answer["mch_id"] == v2.creds.mchid


async def test_native_and_mweb_get_their_urls(v2: Any) -> None:
    native = await v2.unifiedorder("T_V2O00002", trade_type="NATIVE", product_id="P1", openid="")
    mweb = await v2.unifiedorder("T_V2O00003", trade_type="MWEB", openid="")
    assert native["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert mweb["mweb_url"].startswith("http://sandbox.test/_sandbox/checkmweb?prepay_id=")


async def test_reentry_and_its_limits(v2: Any, v3: Any) -> None:
    first = await v2.unifiedorder("T_V2O00004")
    again = await v2.unifiedorder("T_V2O00004")
    changed = await v2.unifiedorder("T_V2O00004", total_fee=101)
    assert again["prepay_id"] == first["prepay_id"]
    assert changed["err_code"] == "INVALID_REQUEST"
    await v3.prepay("T_V3O00005")
    mixed = await v2.unifiedorder("T_V3O00005")
    assert mixed["err_code"] == "OUT_TRADE_NO_USED"


@pytest.mark.parametrize(
    ("change", "err_code"),
    [
        ({"body": ""}, "LACK_PARAMS"),
        ({"trade_type": "CARD"}, "PARAM_ERROR"),
        ({"number": "T 1"}, "PARAM_ERROR"),
        ({"notify_url": "https://m/n?x=1"}, "PARAM_ERROR"),
        ({"spbill_create_ip": ""}, "LACK_PARAMS"),
        ({"fee_type": "USD"}, "PARAM_ERROR"),
        ({"openid": ""}, "LACK_PARAMS"),
        ({"trade_type": "NATIVE", "openid": ""}, "LACK_PARAMS"),
        ({"total_fee": "1.00"}, "PARAM_ERROR"),
        ({"total_fee": 0}, "PARAM_ERROR"),
        ({"time_expire": "tomorrow"}, "PARAM_ERROR"),
    ],
)
async def test_bad_unifiedorder_parameters(v2: Any, change: dict[str, Any], err_code: str) -> None:
    answer = await v2.unifiedorder(change.pop("number", "T_V2O00006"), **change)
    assert (answer["return_code"], answer["result_code"]) == ("SUCCESS", "FAIL")
    assert answer["err_code"] == err_code
    assert answer["err_code_des"]


async def test_time_expire_is_honoured(v2: Any, sandbox: Any) -> None:
    soon = to_v2_time(sandbox.clock.now() + timedelta(minutes=3))
    await v2.unifiedorder("T_V2O00007", time_expire=soon)
    sandbox.clock.advance(181)
    answer = await v2.call("/pay/orderquery", {"out_trade_no": "T_V2O00007"})
    assert answer["trade_state"] == "CLOSED"
    too_soon = await v2.unifiedorder("T_V2O00008", time_expire=to_v2_time(sandbox.clock.now()))
    assert too_soon["err_code"] == "PARAM_ERROR"


async def test_orderquery_before_and_after_payment(v2: Any, sandbox: Any) -> None:
    prepay_id = (await v2.unifiedorder("T_V2O00009", attach="x"))["prepay_id"]
    unpaid = await v2.call("/pay/orderquery", {"out_trade_no": "T_V2O00009"})
    assert (unpaid["trade_state"], unpaid["trade_state_desc"]) == ("NOTPAY", "订单未支付")
    assert unpaid["total_fee"] == "100"
    assert "transaction_id" not in unpaid
    await v2.client.post("/_sandbox/pay", json={"prepay_id": prepay_id})
    paid = await v2.call("/pay/orderquery", {"out_trade_no": "T_V2O00009"})
    by_id = await v2.call("/pay/orderquery", {"transaction_id": paid["transaction_id"]})
    assert paid["trade_state"] == by_id["trade_state"] == "SUCCESS"
    assert paid["openid"] == "oPAYER000000000000000000002"
    assert len(paid["time_end"]) == 14
    assert (paid["attach"], paid["bank_type"], paid["cash_fee"]) == ("x", "OTHERS", "100")


async def test_orderquery_errors(v2: Any) -> None:
    unknown = await v2.call("/pay/orderquery", {"out_trade_no": "T_NOPE"})
    nothing = await v2.call("/pay/orderquery", {})
    assert unknown["err_code"] == "ORDERNOTEXIST"
    assert nothing["err_code"] == "LACK_PARAMS"


async def test_closeorder(v2: Any) -> None:
    prepay_id = (await v2.unifiedorder("T_V2O00010"))["prepay_id"]
    await v2.unifiedorder("T_V2O00011")
    closed = await v2.call("/pay/closeorder", {"out_trade_no": "T_V2O00011"})
    again = await v2.call("/pay/closeorder", {"out_trade_no": "T_V2O00011"})
    await v2.client.post("/_sandbox/pay", json={"prepay_id": prepay_id})
    paid = await v2.call("/pay/closeorder", {"out_trade_no": "T_V2O00010"})
    unknown = await v2.call("/pay/closeorder", {"out_trade_no": "T_NOPE"})
    assert closed["result_code"] == "SUCCESS"
    assert (again["err_code"], paid["err_code"], unknown["err_code"]) == (
        "ORDERCLOSED",
        "ORDERPAID",
        "ORDERNOTEXIST",
    )
    reopen = await v2.unifiedorder("T_V2O00011")
    assert reopen["err_code"] == "ORDERCLOSED"


@pytest.mark.parametrize("merchant", ["MD5", "HMAC-SHA256"])
async def test_the_v2_payment_notification_is_signed_with_the_orders_sign_type(
    v2: Any, v2_hmac: Any, sandbox: Any, receiver: Any, merchant: str
) -> None:
    client = v2 if merchant == "MD5" else v2_hmac
    receiver.status, receiver.body = 200, NOTIFY_SUCCESS_XML
    prepay_id = (await client.unifiedorder("T_V2O00012", attach="att"))["prepay_id"]
    await client.client.post("/_sandbox/pay", json={"prepay_id": prepay_id})
    await sandbox.pay.drain(5)
    [received] = receiver.received
    assert received["path"] == "/notify/v2"
    result = parse_payment_notification(
        received["body"], key=client.creds.v2_key, sign_type=client.sign_type
    )
    assert result.ok
    assert (result.out_trade_no, result.total_fee, result.attach) == ("T_V2O00012", 100, "att")
    assert result.openid == "oPAYER000000000000000000002"
    delivery = sandbox.pay.dispatcher.deliveries[0]
    assert delivery.state == "delivered"


async def test_a_v2_notification_needs_the_success_xml_to_count_as_acknowledged(
    v2: Any, sandbox: Any, receiver: Any
) -> None:
    receiver.status, receiver.body = 200, b"success"
    prepay_id = (await v2.unifiedorder("T_V2O00013"))["prepay_id"]
    await v2.client.post("/_sandbox/pay", json={"prepay_id": prepay_id})
    await sandbox.pay.drain(5)
    receiver.body = b"<xml><return_code>FAIL</return_code></xml>"
    sandbox.clock.advance(15)
    await sandbox.pay.run_due()
    receiver.status, receiver.body = 500, NOTIFY_SUCCESS_XML
    sandbox.clock.advance(15)
    await sandbox.pay.run_due()
    delivery = sandbox.pay.dispatcher.deliveries[0]
    assert [a.acknowledged for a in delivery.attempts] == [False, False, False]
    receiver.status = 200
    sandbox.clock.advance(30)
    await sandbox.pay.run_due()
    assert delivery.state == "delivered"
