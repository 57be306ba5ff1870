"""The Pay control API: notifications, orders, refund outcomes, settings, prepay info."""

from __future__ import annotations

from typing import Any

import pytest

REFUNDS = "/v3/refund/domestic/refunds"


def _refund(number: str, refund_no: str, fee: int = 10) -> dict[str, Any]:
    amount = {"refund": fee, "total": 100, "currency": "CNY"}
    return {"out_trade_no": number, "out_refund_no": refund_no, "amount": amount}


async def test_notifications_lists_every_attempt_of_an_order_including_refunds(
    v3: Any, sandbox: Any, receiver: Any
) -> None:
    receiver.status = 500
    await v3.paid("T_CTL00001")
    await v3.paid("T_CTL00002")
    await sandbox.pay.drain(5)
    receiver.status = 204
    await v3.call("POST", REFUNDS, _refund("T_CTL00001", "R_CTL01"))
    sandbox.clock.advance(15)
    await sandbox.pay.run_due()
    answer = (await v3.client.get("/_sandbox/notifications?out_trade_no=T_CTL00001")).json()
    kinds = [(a["event_type"], a["number"], a["status"]) for a in answer["attempts"]]
    assert kinds == [
        ("TRANSACTION.SUCCESS", 1, 500),
        ("TRANSACTION.SUCCESS", 2, 204),
        ("REFUND.SUCCESS", 1, 204),
    ]
    assert [d["state"] for d in answer["deliveries"]] == ["delivered", "delivered"]
    assert answer["attempts"][2]["out_refund_no"] == "R_CTL01"
    everything = (await v3.client.get("/_sandbox/notifications")).json()
    assert len(everything["deliveries"]) == 3
    other = (await v3.client.get("/_sandbox/notifications?mchid=1900000002")).json()
    assert other == {"deliveries": [], "attempts": []}


async def test_orders_lists_orders_with_their_refunds(v3: Any, sandbox: Any) -> None:
    await v3.paid("T_CTL00003")
    await v3.prepay("T_CTL00004", "native")
    await v3.call("POST", REFUNDS, _refund("T_CTL00003", "R_CTL02"))
    sandbox.clock.advance(5)
    listed = (await v3.client.get("/_sandbox/orders")).json()["orders"]
    assert [o["out_trade_no"] for o in listed] == ["T_CTL00003", "T_CTL00004"]
    assert listed[0]["state"] == "REFUND"
    assert listed[0]["refunds"][0]["status"] == "SUCCESS"  # settled on the way in
    assert listed[1]["code_url"].startswith("weixin://")
    assert listed[0]["history"][0]["what"] == "v3 prepay JSAPI → NOTPAY"
    one = (await v3.client.get("/_sandbox/orders?mchid=1900000001&out_trade_no=T_CTL00004")).json()
    assert len(one["orders"]) == 1


async def test_a_refund_outcome_can_be_armed_before_the_refund_exists(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    armed = await v3.client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_CTL03", "status": "ABNORMAL"}
    )
    assert armed.json() == {"out_refund_no": "R_CTL03", "status": "ABNORMAL", "applied": "armed"}
    await v3.paid("T_CTL00005")
    await v3.call("POST", REFUNDS, _refund("T_CTL00005", "R_CTL03"))
    sandbox.clock.advance(5)
    await sandbox.pay.run_due()
    assert helpers.open_v3(v3.creds, receiver.received[-1]).event_type == "REFUND.ABNORMAL"


async def test_refund_outcome_errors(v3: Any, v3_cert: Any, sandbox: Any) -> None:
    await v3.paid("T_CTL00006")
    await v3_cert.paid("T_CTL00006")
    await v3.call("POST", REFUNDS, _refund("T_CTL00006", "R_CTL04"))
    await v3_cert.call("POST", REFUNDS, _refund("T_CTL00006", "R_CTL04"))
    post = v3.client.post
    ambiguous = await post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_CTL04", "status": "CLOSED"}
    )
    assert ambiguous.status_code == 400
    chosen = await post(
        "/_sandbox/refund-outcome",
        json={"out_refund_no": "R_CTL04", "status": "CLOSED", "mchid": v3.mchid},
    )
    assert chosen.json()["applied"] == "now"
    final = await post(
        "/_sandbox/refund-outcome",
        json={"out_refund_no": "R_CTL04", "status": "SUCCESS", "mchid": v3.mchid},
    )
    assert final.status_code == 409
    for body in ({"out_refund_no": "R", "status": "PROCESSING"}, {"status": "SUCCESS"}):
        assert (await post("/_sandbox/refund-outcome", json=body)).status_code == 400
    assert (await post("/_sandbox/refund-outcome", content=b"x")).status_code == 400


async def test_pay_settings(v3: Any, sandbox: Any) -> None:
    current = (await v3.client.get("/_sandbox/pay-settings")).json()
    assert current == {"refund_delay_seconds": 5.0, "notify_timeout_seconds": 5.0}
    changed = await v3.client.post("/_sandbox/pay-settings", json={"refund_delay_seconds": 60})
    assert changed.json()["refund_delay_seconds"] == 60.0
    await v3.paid("T_CTL00007")
    await v3.call("POST", REFUNDS, _refund("T_CTL00007", "R_CTL05"))
    sandbox.clock.advance(59)
    assert (await v3.call("GET", f"{REFUNDS}/R_CTL05")).json()["status"] == "PROCESSING"
    sandbox.clock.advance(1)
    assert (await v3.call("GET", f"{REFUNDS}/R_CTL05")).json()["status"] == "SUCCESS"


@pytest.mark.parametrize(
    "body",
    [
        {"surprise": 1},
        {"refund_delay_seconds": "5"},
        {"refund_delay_seconds": True},
        {"notify_timeout_seconds": 61},
        {"refund_delay_seconds": -1},
    ],
)
async def test_pay_settings_refuses_bad_values(v3: Any, body: dict[str, Any]) -> None:
    assert (await v3.client.post("/_sandbox/pay-settings", json=body)).status_code == 400


async def test_pay_settings_refuses_a_body_that_is_not_json(v3: Any) -> None:
    assert (await v3.client.post("/_sandbox/pay-settings", content=b"")).status_code == 400


async def test_prepay_info_for_pay_sheets(v3: Any) -> None:
    prepay_id = (await v3.prepay("T_CTL00008")).json()["prepay_id"]
    info = await v3.client.get(f"/_sandbox/prepay-info?prepay_id={prepay_id}")
    assert info.json()["amount_yuan"] == "1.00"
    assert info.json()["description"] == "沙箱测试商品"
    assert info.headers["access-control-allow-origin"] == "*"
    assert (await v3.client.get("/_sandbox/prepay-info?prepay_id=nope")).status_code == 404


async def test_a_malformed_pay_request_is_param_error_without_err_msg(v3: Any) -> None:
    response = await v3.client.post("/_sandbox/pay", json={"prepay_id": 5})
    assert response.status_code == 400
    assert response.json() == {
        "code": "PARAM_ERROR",
        "message": "prepay_id must be a non-empty string",
    }


async def test_reset_restores_the_pay_settings(v3: Any) -> None:
    body = {"refund_delay_seconds": 1, "notify_timeout_seconds": 1}
    await v3.client.post("/_sandbox/pay-settings", json=body)
    await v3.client.post("/_sandbox/reset")
    current = (await v3.client.get("/_sandbox/pay-settings")).json()
    assert current == {"refund_delay_seconds": 5.0, "notify_timeout_seconds": 5.0}
