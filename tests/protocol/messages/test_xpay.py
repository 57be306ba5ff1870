"""paydesk.protocol.messages.xpay: the ``xpay_goods_deliver_notify`` event and its answer."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.messages import parse_push, render_push
from paydesk.protocol.messages.xpay import (
    GOODS_DELIVER_EVENT,
    GoodsDeliverNotify,
    goods_deliver_fields,
    is_goods_deliver,
    parse_goods_deliver,
    parse_xpay_answer,
    xpay_answer,
)


def event_fields(**changes: Any) -> dict[str, Any]:
    """A complete event as a JSON push carries it; ``changes`` replace top-level fields."""
    fields: dict[str, Any] = {
        "ToUserName": "gh_0123456789ab",
        "FromUserName": "oBuyer",
        "CreateTime": 1714037059,
        "MsgType": "event",
        "Event": GOODS_DELIVER_EVENT,
        "OpenId": "oBuyer",
        "OutTradeNo": "PD01HX-2",
        "Env": 1,
        "WeChatPayInfo": {
            "MchOrderNo": "M0001",
            "TransactionId": "4200001",
            "PaidTime": 1714037050,
        },
        "GoodsInfo": {
            "ProductId": "gold_monthly",
            "Quantity": 1,
            "OrigPrice": 2000,
            "ActualPrice": 1999,
            "Attach": "ord_1",
        },
        "RetryTimes": 2,
    }
    fields.update(changes)
    return fields


def test_a_json_event_is_typed() -> None:
    body = json.dumps(event_fields()).encode()
    event = parse_goods_deliver(parse_push(body, "json").raw)
    assert event == GoodsDeliverNotify(
        to_user="gh_0123456789ab",
        from_user="oBuyer",
        create_time=1714037059,
        openid="oBuyer",
        out_trade_no="PD01HX-2",
        env=1,
        mch_order_no="M0001",
        transaction_id="4200001",
        paid_time=1714037050,
        product_id="gold_monthly",
        quantity=1,
        orig_price=2000,
        actual_price=1999,
        attach="ord_1",
        retry_times=2,
    )
    assert event.payment_id == "4200001"


def test_an_xml_event_gives_the_same_values_as_its_json_twin() -> None:
    fields = event_fields()
    from_xml = parse_goods_deliver(parse_push(render_push(fields, "xml"), "xml").raw)
    from_json = parse_goods_deliver(parse_push(render_push(fields, "json"), "json").raw)
    assert from_xml == from_json
    assert (from_xml.actual_price, from_xml.env, from_xml.paid_time) == (1999, 1, 1714037050)


def test_the_fields_it_builds_parse_back_to_the_event() -> None:
    event = parse_goods_deliver(event_fields())
    for fmt in ("xml", "json"):
        body = render_push(goods_deliver_fields(event), fmt)
        assert parse_goods_deliver(parse_push(body, fmt).raw) == event


def test_optional_fields_may_be_missing() -> None:
    event = parse_goods_deliver(
        event_fields(
            WeChatPayInfo={"MchOrderNo": "M0001"},
            GoodsInfo={"ProductId": "p", "Quantity": "1", "ActualPrice": "5"},
            RetryTimes=None,
        )
    )
    assert (event.transaction_id, event.paid_time, event.orig_price, event.attach) == (
        None,
        None,
        None,
        None,
    )
    assert (event.payment_id, event.retry_times, event.quantity) == ("M0001", 0, 1)
    rebuilt = goods_deliver_fields(event)
    assert "PaidTime" not in rebuilt["WeChatPayInfo"]  # type: ignore[operator]
    assert rebuilt["GoodsInfo"]["OrigPrice"] == 5  # type: ignore[index]
    assert parse_goods_deliver(rebuilt) == replace(event, orig_price=5)  # as WeChat fills it


def test_numbers_sent_as_json_numbers_where_text_is_expected_are_text() -> None:
    event = parse_goods_deliver(
        event_fields(OutTradeNo=123456789, WeChatPayInfo={"TransactionId": 4200001})
    )
    assert (event.out_trade_no, event.transaction_id) == ("123456789", "4200001")


def test_other_pushes_are_not_goods_deliveries() -> None:
    assert is_goods_deliver(event_fields())
    assert not is_goods_deliver(event_fields(Event="xpay_refund_notify"))
    assert not is_goods_deliver(event_fields(MsgType="text"))
    with pytest.raises(MalformedInput, match="not an xpay_goods_deliver_notify"):
        parse_goods_deliver(event_fields(Event="user_enter_tempsession"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"OpenId": None}, "OpenId"),
        ({"OutTradeNo": ""}, "OutTradeNo"),
        ({"ToUserName": None}, "ToUserName"),
        ({"FromUserName": ["o"]}, "FromUserName"),
        ({"CreateTime": "yesterday"}, "CreateTime"),
        ({"Env": None}, "Env"),
        ({"Env": -1}, "Env"),
        ({"Env": True}, "Env"),
        ({"Env": "1.5"}, "Env"),
        ({"Env": "1" * 19}, "Env"),
        ({"Env": "１"}, "Env"),  # a full-width digit: isdigit() but not ASCII
        ({"WeChatPayInfo": None}, "WeChatPayInfo"),
        ({"WeChatPayInfo": "4200001"}, "WeChatPayInfo"),
        ({"WeChatPayInfo": {}}, "WeChatPayInfo"),
        ({"WeChatPayInfo": {"TransactionId": "", "MchOrderNo": ""}}, "WeChatPayInfo"),
        ({"WeChatPayInfo": {"TransactionId": "1", "PaidTime": 1.5}}, "PaidTime"),
        ({"GoodsInfo": None}, "GoodsInfo"),
        ({"GoodsInfo": {"Quantity": 1, "ActualPrice": 1}}, "ProductId"),
        ({"GoodsInfo": {"ProductId": "p", "ActualPrice": 1}}, "Quantity"),
        ({"GoodsInfo": {"ProductId": "p", "Quantity": 1}}, "ActualPrice"),
        ({"GoodsInfo": {"ProductId": "p", "Quantity": 1, "ActualPrice": 9.99}}, "ActualPrice"),
        (
            {"GoodsInfo": {"ProductId": "p", "Quantity": 1, "ActualPrice": 1, "Attach": {}}},
            "Attach",
        ),
        ({"RetryTimes": "many"}, "RetryTimes"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedInput) as refused:
        parse_goods_deliver(event_fields(**changes))
    assert refused.value.field == field


def test_the_answer_stops_retries_only_with_errcode_zero() -> None:
    assert json.loads(xpay_answer()) == {"ErrCode": 0, "ErrMsg": "success"}
    assert json.loads(xpay_answer(1, "数据库忙")) == {"ErrCode": 1, "ErrMsg": "数据库忙"}
    assert parse_xpay_answer(xpay_answer()) == 0
    assert parse_xpay_answer(xpay_answer(-1, "busy")) == -1
    for other in (b"success", b"", b"\xff", b"[0]", b'{"ErrCode": "0"}', b'{"ErrCode": true}'):
        assert parse_xpay_answer(other) is None
