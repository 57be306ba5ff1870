"""v3 prepay on every channel, re-entry, WeChat's errors, query both ways, close, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from paydesk.protocol.times import parse_rfc3339, to_rfc3339_beijing
from paydesk.protocol.v3.models.payments import Transaction


async def test_jsapi_prepay_gives_a_wechat_shaped_prepay_id(v3: Any) -> None:
    response = await v3.prepay("T_ORD00001")
    prepay_id = response.json()["prepay_id"]
    assert response.json() == {"prepay_id": prepay_id}
    assert prepay_id.startswith("wx")
    assert len(prepay_id) == 36


async def test_app_prepay_gives_a_prepay_id(v3: Any) -> None:
    response = await v3.prepay("T_ORD00002", "app")
    assert set(response.json()) == {"prepay_id"}


async def test_native_prepay_gives_a_code_url(v3: Any) -> None:
    response = await v3.prepay("T_ORD00003", "native")
    assert response.json()["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")


async def test_h5_prepay_gives_the_sandbox_checkmweb_page(v3: Any) -> None:
    response = await v3.prepay("T_ORD00004", "h5")
    url = urlsplit(response.json()["h5_url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "sandbox.test", "/_sandbox/checkmweb")
    query = parse_qs(url.query)
    assert query["prepay_id"][0].startswith("wx")
    assert query["package"][0].isdigit()


async def test_reentry_with_identical_parameters_returns_the_same_prepay(v3: Any) -> None:
    first = await v3.prepay("T_ORD00005")
    again = await v3.prepay("T_ORD00005")
    assert again.status_code == 200
    assert again.json() == first.json()


async def test_reentry_after_two_hours_gives_a_fresh_prepay_id(v3: Any, sandbox: Any) -> None:
    first = (await v3.prepay("T_ORD00006")).json()["prepay_id"]
    sandbox.clock.advance(2 * 3600)
    again = (await v3.prepay("T_ORD00006")).json()["prepay_id"]
    assert again != first


async def test_reentry_with_other_parameters_is_refused(v3: Any) -> None:
    await v3.prepay("T_ORD00007")
    response = await v3.prepay("T_ORD00007", amount={"total": 101, "currency": "CNY"})
    assert response.status_code == 400
    assert response.json() == {
        "code": "INVALID_REQUEST",
        "message": "请求重入时，参数与首次请求时不一致",
    }


async def test_the_same_number_on_another_channel_is_out_trade_no_used(v3: Any) -> None:
    await v3.prepay("T_ORD00008")
    response = await v3.prepay("T_ORD00008", "native")
    assert response.status_code == 403
    assert response.json()["code"] == "OUT_TRADE_NO_USED"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"amount": {"total": 0}}, "/amount/total"),
        ({"amount": {"total": "100"}}, "/amount/total"),
        ({"amount": {"total": 1.5}}, "/amount/total"),
        ({"out_trade_no": "T1"}, "/out_trade_no"),
        ({"description": ""}, "/description"),
        ({"notify_url": "ftp://x/y"}, "/notify_url"),
        ({"time_expire": "tomorrow"}, "/time_expire"),
        ({"surprise": 1}, "/surprise"),
    ],
)
async def test_bad_parameters_are_param_error_with_the_field(
    v3: Any, change: dict[str, Any], pointer: str
) -> None:
    body = v3.order("T_ORD00009", payer={"openid": "oX"}) | change
    response = await v3.call("POST", "/v3/pay/transactions/jsapi", body)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"
    assert response.json()["detail"]["field"] == pointer


async def test_jsapi_needs_a_payer_and_h5_needs_h5_info(v3: Any) -> None:
    jsapi = await v3.call("POST", "/v3/pay/transactions/jsapi", v3.order("T_ORD00010"))
    h5 = await v3.call(
        "POST",
        "/v3/pay/transactions/h5",
        v3.order("T_ORD00011", scene_info={"payer_client_ip": "203.0.113.9"}),
    )
    assert jsapi.json()["detail"]["field"] == "/payer/openid"
    assert h5.json()["detail"]["field"] == "/scene_info/h5_info"


async def test_the_body_mchid_must_be_the_signers(v3: Any) -> None:
    response = await v3.prepay("T_ORD00012", mchid="1900000002")
    assert response.status_code == 400
    assert response.json()["detail"]["field"] == "/mchid"


async def test_an_app_not_bound_to_the_merchant_is_refused(v3: Any) -> None:
    response = await v3.prepay("T_ORD00013", appid="wx0000000000000000")
    assert response.status_code == 400
    assert response.json()["code"] == "APPID_MCHID_NOT_MATCH"


async def test_time_expire_too_close_is_refused(v3: Any, sandbox: Any) -> None:
    soon = to_rfc3339_beijing(sandbox.clock.now())
    response = await v3.prepay("T_ORD00014", time_expire=soon)
    assert response.json()["detail"]["field"] == "/time_expire"


async def test_query_of_an_unpaid_order(v3: Any) -> None:
    await v3.prepay("T_ORD00015", attach="a1")
    response = await v3.query("T_ORD00015")
    transaction = Transaction.model_validate_json(response.content)
    assert transaction.trade_state == "NOTPAY"
    assert transaction.trade_state_desc == "订单未支付"
    assert transaction.transaction_id is None
    assert transaction.attach == "a1"
    assert transaction.amount is not None
    assert transaction.amount.total == 100


async def test_query_of_a_paid_order_by_both_numbers(v3: Any, sandbox: Any) -> None:
    paid = await v3.paid("T_ORD00016", scene_info={"payer_client_ip": "1.2.3.4", "device_id": "D1"})
    by_number = Transaction.model_validate_json((await v3.query("T_ORD00016")).content)
    by_id = await v3.call(
        "GET", f"/v3/pay/transactions/id/{paid['transaction_id']}?mchid={v3.mchid}"
    )
    assert Transaction.model_validate_json(by_id.content) == by_number
    assert by_number.trade_state == "SUCCESS"
    assert by_number.bank_type == "OTHERS"
    assert by_number.trade_type == "JSAPI"
    assert by_number.transaction_id is not None
    assert len(by_number.transaction_id) == 28
    assert by_number.transaction_id.isdigit()
    assert by_number.payer is not None
    assert by_number.payer.openid == "oPAYER000000000000000000001"
    assert by_number.success_time is not None
    assert parse_rfc3339(by_number.success_time).utcoffset() == timedelta(hours=8)
    assert by_number.scene_info is not None
    assert by_number.scene_info.device_id == "D1"


async def test_query_needs_the_signers_mchid(v3: Any) -> None:
    await v3.prepay("T_ORD00017")
    missing = await v3.call("GET", "/v3/pay/transactions/out-trade-no/T_ORD00017")
    other = await v3.call("GET", "/v3/pay/transactions/out-trade-no/T_ORD00017?mchid=1900000002")
    for response in (missing, other):
        assert response.status_code == 400
        assert response.json()["detail"] == {
            "field": "mchid",
            "location": "query",
            "issue": response.json()["message"],
        }


async def test_unknown_orders_are_order_not_exist(v3: Any, v3_cert: Any) -> None:
    await v3.prepay("T_ORD00018")
    unknown = await v3.query("T_NOPE0001")
    someone_elses = await v3_cert.query("T_ORD00018")
    unpaid_by_id = await v3.call(
        "GET", f"/v3/pay/transactions/id/4200000000000000000000000000?mchid={v3.mchid}"
    )
    for response in (unknown, someone_elses, unpaid_by_id):
        assert response.status_code == 404
        assert response.json()["code"] == "ORDER_NOT_EXIST"
    assert unknown.headers["Request-ID"].endswith("-268512771")


async def test_close_is_204_and_reentrant(v3: Any) -> None:
    await v3.prepay("T_ORD00019")
    url = "/v3/pay/transactions/out-trade-no/T_ORD00019/close"
    first = await v3.call("POST", url, {"mchid": v3.mchid})
    second = await v3.call("POST", url, {"mchid": v3.mchid})
    assert (first.status_code, first.content, second.status_code) == (204, b"", 204)
    closed = Transaction.model_validate_json((await v3.query("T_ORD00019")).content)
    assert (closed.trade_state, closed.trade_state_desc) == ("CLOSED", "订单已关闭")


async def test_closing_a_paid_order_is_order_paid(v3: Any) -> None:
    await v3.paid("T_ORD00020")
    response = await v3.call(
        "POST", "/v3/pay/transactions/out-trade-no/T_ORD00020/close", {"mchid": v3.mchid}
    )
    assert response.status_code == 400
    assert response.json() == {"code": "ORDER_PAID", "message": "该订单已支付"}
    assert response.headers["Request-ID"].endswith("-268449538")


@pytest.mark.parametrize("body", [None, {"mchid": "1900000002"}, {"nope": 1}])
async def test_close_needs_the_signers_mchid_in_a_json_body(v3: Any, body: Any) -> None:
    await v3.prepay("T_ORD00021")
    response = await v3.call("POST", "/v3/pay/transactions/out-trade-no/T_ORD00021/close", body)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"


async def test_close_refuses_a_body_that_is_not_json(v3: Any) -> None:
    url = "/v3/pay/transactions/out-trade-no/T_ORD00022/close"
    header = v3.authorization("POST", url, b"{nope")
    response = await v3.client.post(url, content=b"{nope", headers={"Authorization": header})
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"


async def test_an_order_expires_into_closed_and_cannot_be_placed_again(
    v3: Any, sandbox: Any
) -> None:
    await v3.prepay("T_ORD00023")
    sandbox.clock.advance(7 * 86400)
    query = Transaction.model_validate_json((await v3.query("T_ORD00023")).content)
    again = await v3.prepay("T_ORD00023")
    assert query.trade_state == "CLOSED"
    assert again.status_code == 400
    assert again.json() == {"code": "ORDER_CLOSED", "message": "订单已关闭"}


async def test_time_expire_sets_the_expiry(v3: Any, sandbox: Any) -> None:
    when = to_rfc3339_beijing(sandbox.clock.now() + timedelta(minutes=10))
    await v3.prepay("T_ORD00024", time_expire=when)
    sandbox.clock.advance(9 * 60)
    assert (await v3.query("T_ORD00024")).json()["trade_state"] == "NOTPAY"
    sandbox.clock.advance(61)
    assert (await v3.query("T_ORD00024")).json()["trade_state"] == "CLOSED"


async def test_placing_a_paid_order_again_is_order_paid(v3: Any) -> None:
    await v3.paid("T_ORD00025")
    response = await v3.prepay("T_ORD00025")
    assert response.json()["code"] == "ORDER_PAID"


async def test_out_trade_no_with_escaped_characters_round_trips(v3: Any) -> None:
    from paydesk.protocol.v3.endpoints import query_by_out_trade_no_path

    await v3.prepay("T|ORD*0026")
    response = await v3.call("GET", query_by_out_trade_no_path("T|ORD*0026", mchid=v3.mchid))
    assert response.json()["out_trade_no"] == "T|ORD*0026"
