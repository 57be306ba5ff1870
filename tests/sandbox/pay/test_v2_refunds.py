"""v2 refunds: apply, query every way, and the encrypted refund notify."""

from __future__ import annotations

from typing import Any

import pytest

from paydesk.protocol.v2.notify import NOTIFY_SUCCESS_XML, parse_refund_notification


async def _paid(v2: Any, number: str) -> dict[str, str]:
    prepay_id = (await v2.unifiedorder(number))["prepay_id"]
    await v2.client.post("/_sandbox/pay", json={"prepay_id": prepay_id})
    return await v2.call("/pay/orderquery", {"out_trade_no": number})


def _refund(number: str, refund_no: str, fee: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "out_trade_no": number,
        "out_refund_no": refund_no,
        "total_fee": 100,
        "refund_fee": fee,
    } | extra


async def test_refund_then_query_by_every_number(v2: Any, sandbox: Any) -> None:
    paid = await _paid(v2, "T_V2R00001")
    answer = await v2.call("/secapi/pay/refund", _refund("T_V2R00001", "R_V2_0001"))
    assert answer["result_code"] == "SUCCESS"
    assert (answer["refund_fee"], answer["total_fee"]) == ("30", "100")
    assert answer["transaction_id"] == paid["transaction_id"]
    queries = [
        {"out_refund_no": "R_V2_0001"},
        {"refund_id": answer["refund_id"]},
        {"out_trade_no": "T_V2R00001"},
        {"transaction_id": paid["transaction_id"]},
    ]
    for query in queries:
        found = await v2.call("/pay/refundquery", query)
        assert (found["refund_count"], found["refund_status_0"]) == ("1", "PROCESSING")
        assert found["out_refund_no_0"] == "R_V2_0001"
    sandbox.clock.advance(5)
    settled = await v2.call("/pay/refundquery", {"out_refund_no": "R_V2_0001"})
    assert settled["refund_status_0"] == "SUCCESS"
    assert len(settled["refund_success_time_0"]) == 19


async def test_refund_errors(v2: Any) -> None:
    await _paid(v2, "T_V2R00002")
    await v2.unifiedorder("T_V2R00003")
    cases = [
        (_refund("T_V2R00002", "R_V2_0002", 101), "NOTENOUGH"),
        (_refund("T_V2R00002", "R_V2_0003", total_fee=99), "PARAM_ERROR"),
        (_refund("T_V2R00003", "R_V2_0004"), "ORDERNOTEXIST"),
        (_refund("T_NOPE", "R_V2_0005"), "ORDERNOTEXIST"),
        ({"out_refund_no": "R_V2_0006", "total_fee": 100, "refund_fee": 1}, "LACK_PARAMS"),
        (
            _refund("T_V2R00002", "R_V2_0007", transaction_id="4200000000000000000000000000"),
            "ORDERNOTEXIST",
        ),
    ]
    for fields, err_code in cases:
        answer = await v2.call("/secapi/pay/refund", fields)
        assert answer["err_code"] == err_code, fields


async def test_refundquery_errors(v2: Any) -> None:
    await _paid(v2, "T_V2R00004")
    unpaid_order = await v2.call("/pay/refundquery", {"out_trade_no": "T_V2R00004"})
    unknown = await v2.call("/pay/refundquery", {"out_refund_no": "R_NOPE"})
    unknown_id = await v2.call("/pay/refundquery", {"refund_id": "5000"})
    unknown_order = await v2.call("/pay/refundquery", {"out_trade_no": "T_NOPE"})
    nothing = await v2.call("/pay/refundquery", {})
    for answer in (unpaid_order, unknown, unknown_id, unknown_order):
        assert answer["err_code"] == "REFUNDNOTEXIST"
    assert nothing["err_code"] == "LACK_PARAMS"


@pytest.mark.parametrize(
    ("status", "v2_status"),
    [("SUCCESS", "SUCCESS"), ("ABNORMAL", "CHANGE"), ("CLOSED", "REFUNDCLOSE")],
)
async def test_the_refund_notification_carries_encrypted_req_info(
    v2: Any, sandbox: Any, receiver: Any, status: str, v2_status: str
) -> None:
    receiver.status, receiver.body = 200, NOTIFY_SUCCESS_XML
    await _paid(v2, "T_V2R00005")
    await sandbox.pay.drain(5)
    await v2.call(
        "/secapi/pay/refund",
        _refund("T_V2R00005", "R_V2_0008", notify_url="http://m.test/v2refund"),
    )
    await v2.client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_V2_0008", "status": status}
    )
    await sandbox.pay.drain(5)
    received = receiver.received[-1]
    assert received["path"] == "/v2refund"
    assert b"<sign>" not in received["body"]
    result = parse_refund_notification(received["body"], key=v2.creds.v2_key)
    assert (result.out_refund_no, result.refund_fee, result.total_fee) == ("R_V2_0008", 30, 100)
    assert result.refund_status == v2_status
    assert (result.success_time is not None) == (status == "SUCCESS")
    assert result.mch_id == v2.creds.mchid
    query = await v2.call("/pay/refundquery", {"out_refund_no": "R_V2_0008"})
    assert query["refund_status_0"] == v2_status
