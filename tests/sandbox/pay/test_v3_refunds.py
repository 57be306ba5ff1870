"""v3 refunds: accepted PROCESSING, settled on virtual time, notified, WeChat's errors."""

from __future__ import annotations

from typing import Any

import pytest

from paydesk.protocol.v3.models.refunds import Refund, RefundNotification

REFUNDS = "/v3/refund/domestic/refunds"


def _refund(number: str, refund: int = 40, total: int = 100, **extra: Any) -> dict[str, Any]:
    body = {
        "out_refund_no": number,
        "amount": {"refund": refund, "total": total, "currency": "CNY"},
    }
    return body | extra


async def test_a_refund_is_processing_then_success_after_the_delay(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    created = await v3.call("POST", REFUNDS, _refund("R_0001", out_trade_no="T_PAID001"))
    refund = Refund.model_validate_json(created.content)
    assert (refund.status, refund.amount.refund, refund.amount.total) == ("PROCESSING", 40, 100)
    assert refund.transaction_id == paid_order["transaction_id"]
    assert refund.refund_id.startswith("50")
    sandbox.clock.advance(5)
    queried = Refund.model_validate_json((await v3.call("GET", f"{REFUNDS}/R_0001")).content)
    assert queried.status == "SUCCESS"
    assert queried.success_time is not None
    assert (await v3.query("T_PAID001")).json()["trade_state"] == "REFUND"


async def test_a_refund_by_transaction_id_and_its_notification(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any, paid_order: dict[str, Any]
) -> None:
    body = _refund(
        "R_0002", transaction_id=paid_order["transaction_id"], notify_url="http://m.test/refunds"
    )
    assert (await v3.call("POST", REFUNDS, body)).status_code == 200
    sandbox.clock.advance(5)
    assert await sandbox.pay.run_due() == 1
    received = receiver.received[-1]
    assert received["path"] == "/refunds"
    opened = helpers.open_v3(v3.creds, received)
    assert opened.event_type == "REFUND.SUCCESS"
    assert opened.envelope.resource.associated_data == "refund"
    notice: RefundNotification = opened.refund()
    assert (notice.refund_status, notice.out_refund_no, notice.amount.refund) == (
        "SUCCESS",
        "R_0002",
        40,
    )


async def test_a_refund_notification_goes_to_the_order_url_when_the_refund_has_none(
    v3: Any, sandbox: Any, receiver: Any, paid_order: dict[str, Any]
) -> None:
    await v3.call("POST", REFUNDS, _refund("R_0003", out_trade_no="T_PAID001"))
    sandbox.clock.advance(5)
    await sandbox.pay.run_due()
    assert receiver.received[-1]["path"] == "/notify/v3"


async def test_the_same_refund_again_returns_the_same_refund(
    v3: Any, paid_order: dict[str, Any]
) -> None:
    body = _refund("R_0004", out_trade_no="T_PAID001")
    first = await v3.call("POST", REFUNDS, body)
    second = await v3.call("POST", REFUNDS, body)
    assert first.json() == second.json()


async def test_the_same_refund_number_with_other_parameters_is_refused(
    v3: Any, paid_order: dict[str, Any]
) -> None:
    await v3.call("POST", REFUNDS, _refund("R_0005", out_trade_no="T_PAID001"))
    response = await v3.call("POST", REFUNDS, _refund("R_0005", 41, out_trade_no="T_PAID001"))
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"


async def test_refunding_more_than_paid_is_not_enough(v3: Any, paid_order: dict[str, Any]) -> None:
    await v3.call("POST", REFUNDS, _refund("R_0006", 60, out_trade_no="T_PAID001"))
    response = await v3.call("POST", REFUNDS, _refund("R_0007", 41, out_trade_no="T_PAID001"))
    assert response.status_code == 403
    assert response.json() == {"code": "NOT_ENOUGH", "message": "退款金额超过订单可退金额"}
    exact = await v3.call("POST", REFUNDS, _refund("R_0008", 40, out_trade_no="T_PAID001"))
    assert exact.status_code == 200


async def test_a_closed_refund_gives_its_amount_back(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    await v3.call("POST", REFUNDS, _refund("R_0009", 100, out_trade_no="T_PAID001"))
    await v3.client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_0009", "status": "CLOSED"}
    )
    again = await v3.call("POST", REFUNDS, _refund("R_0010", 100, out_trade_no="T_PAID001"))
    assert again.status_code == 200


async def test_the_total_must_be_the_orders(v3: Any, paid_order: dict[str, Any]) -> None:
    response = await v3.call("POST", REFUNDS, _refund("R_0011", 40, 99, out_trade_no="T_PAID001"))
    assert response.status_code == 400
    assert response.json()["detail"]["field"] == "/amount/total"


@pytest.mark.parametrize(
    "body",
    [
        _refund("R_0012", 101, 100, out_trade_no="T_PAID001"),
        {"out_refund_no": "R_0012", "out_trade_no": "T_PAID001"},
        _refund("R_0012"),
    ],
)
async def test_invalid_refund_bodies_are_param_error(
    v3: Any, paid_order: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await v3.call("POST", REFUNDS, body)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"


async def test_refunding_an_unknown_or_unpaid_order_is_resource_not_exists(v3: Any) -> None:
    await v3.prepay("T_UNPAID01")
    for body in (
        _refund("R_0013", out_trade_no="T_UNPAID01"),
        _refund("R_0014", out_trade_no="T_NOPE0001"),
        _refund("R_0015", transaction_id="4200000000000000000000000000"),
    ):
        response = await v3.call("POST", REFUNDS, body)
        assert response.status_code == 404
        assert response.json()["code"] == "RESOURCE_NOT_EXISTS"


async def test_querying_an_unknown_refund_is_resource_not_exists(v3: Any) -> None:
    response = await v3.call("GET", f"{REFUNDS}/R_NOPE")
    assert response.status_code == 404
    assert response.json() == {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}


async def test_another_merchant_cannot_see_a_refund(
    v3: Any, v3_cert: Any, paid_order: dict[str, Any]
) -> None:
    await v3.call("POST", REFUNDS, _refund("R_0016", out_trade_no="T_PAID001"))
    assert (await v3_cert.call("GET", f"{REFUNDS}/R_0016")).status_code == 404


@pytest.mark.parametrize(
    ("status", "event"), [("ABNORMAL", "REFUND.ABNORMAL"), ("CLOSED", "REFUND.CLOSED")]
)
async def test_a_forced_outcome_is_notified(
    v3: Any,
    sandbox: Any,
    receiver: Any,
    helpers: Any,
    paid_order: dict[str, Any],
    status: str,
    event: str,
) -> None:
    await v3.call("POST", REFUNDS, _refund("R_0017", out_trade_no="T_PAID001"))
    forced = await v3.client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_0017", "status": status}
    )
    assert forced.json()["applied"] == "now"
    await sandbox.pay.drain(5)
    opened = helpers.open_v3(v3.creds, receiver.received[-1])
    assert opened.event_type == event
    assert opened.refund().refund_status == status
    assert opened.refund().success_time is None
    queried = await v3.call("GET", f"{REFUNDS}/R_0017")
    assert queried.json()["status"] == status
