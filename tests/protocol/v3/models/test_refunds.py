"""Refund models: one order id, refund ≤ total, the ``from`` alias, status vs refund_status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.models import (
    FundsFrom,
    Refund,
    RefundAmountRequest,
    RefundGoodsDetail,
    RefundNotification,
    RefundRequest,
    parse_json,
)


def test_refund_request_round_trip_with_every_part() -> None:
    request = RefundRequest(
        transaction_id="1217752501201407033233368018",
        out_refund_no="1217752501201407033233368018",
        reason="商品已售完",
        notify_url="https://weixin.qq.com",
        funds_account="AVAILABLE",
        amount=RefundAmountRequest(
            refund=888,
            total=888,
            from_=[FundsFrom(account="AVAILABLE", amount=444)],
        ),
        goods_detail=[
            RefundGoodsDetail(
                merchant_goods_id="1217752501201407033233368018",
                unit_price=100,
                refund_amount=100,
                refund_quantity=1,
            )
        ],
    )
    body = json.loads(request.to_json())
    assert body["amount"]["from"] == [{"account": "AVAILABLE", "amount": 444}]
    assert "from_" not in body["amount"]
    assert RefundRequest.model_validate_json(request.to_json()) == request


@pytest.mark.parametrize(
    "ids",
    [{}, {"transaction_id": "42000001", "out_trade_no": "T000001"}],
)
def test_exactly_one_order_id(ids: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        RefundRequest(out_refund_no="R1", amount=RefundAmountRequest(refund=1, total=1), **ids)


def test_refund_cannot_exceed_total() -> None:
    with pytest.raises(ValidationError, match="exceeds"):
        RefundAmountRequest(refund=101, total=100)


@pytest.mark.parametrize("refund", [0, 1.5, "1"])
def test_refund_amount_is_a_positive_int(refund: Any) -> None:
    with pytest.raises(ValidationError):
        RefundAmountRequest(refund=refund, total=100)


# Refund object shape from wechatpay-java refund/model/Refund.java; values made up here.
REFUND = {
    "refund_id": "50000000382019052709732678859",
    "out_refund_no": "1217752501201407033233368018",
    "transaction_id": "1217752501201407033233368018",
    "out_trade_no": "1217752501201407033233368018",
    "channel": "ORIGINAL",
    "user_received_account": "招商银行信用卡0403",
    "success_time": "2020-12-01T16:18:12+08:00",
    "create_time": "2020-12-01T16:18:12+08:00",
    "status": "SUCCESS",
    "funds_account": "UNSETTLED",
    "amount": {
        "total": 100,
        "refund": 100,
        "from": [{"account": "AVAILABLE", "amount": 444}],
        "payer_total": 90,
        "payer_refund": 90,
        "settlement_refund": 100,
        "settlement_total": 100,
        "discount_refund": 10,
        "currency": "CNY",
    },
}


def test_refund_object_parses() -> None:
    refund = parse_json(Refund, json.dumps(REFUND, ensure_ascii=False))
    assert refund.status == "SUCCESS"
    assert refund.amount.discount_refund == 10
    assert refund.amount.model_extra == {"from": [{"account": "AVAILABLE", "amount": 444}]}


@pytest.mark.parametrize(
    "change", [{"status": "REFUNDCLOSE"}, {"amount": {"total": 1, "refund": 1.0}}]
)
def test_refund_object_refuses(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedInput):
        parse_json(Refund, json.dumps(REFUND | change))


def test_refund_notification_uses_refund_status() -> None:
    raw = {
        "mchid": "1900000100",
        "transaction_id": "1008450740201411110005820873",
        "out_trade_no": "20150806125346",
        "refund_id": "50200207182018070300011301001",
        "out_refund_no": "7752501201407033233368018",
        "refund_status": "SUCCESS",
        "success_time": "2018-06-08T10:34:56+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": 999, "refund": 999, "payer_total": 999, "payer_refund": 999},
    }
    note = parse_json(RefundNotification, json.dumps(raw))
    assert (note.refund_status, note.amount.refund) == ("SUCCESS", 999)
    with pytest.raises(MalformedInput) as info:
        parse_json(
            RefundNotification, json.dumps({**raw, "status": "SUCCESS"} | {"refund_status": None})
        )
    assert info.value.field == "refund_status"
