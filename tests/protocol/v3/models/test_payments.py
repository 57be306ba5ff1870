"""Payment models: the official JSAPI body round trip, field limits, the Transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.models import (
    Amount,
    Detail,
    GoodsDetail,
    H5Info,
    Payer,
    PrepayRequest,
    PrepayResponse,
    SceneInfo,
    SettleInfo,
    StoreInfo,
    Transaction,
    parse_json,
)

BASE: dict[str, Any] = {
    "appid": "wxd678efh567hg6787",
    "mchid": "1900007291",
    "description": "Image形象店-深圳腾大-QQ公仔",
    "out_trade_no": "1217752501201407033233368018",
    "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
    "amount": {"total": 100, "currency": "CNY"},
}


def test_official_jsapi_body_round_trips_byte_for_byte(official_doc: dict[str, Any]) -> None:
    case = next(c for c in official_doc["cases"] if c["id"] == "authorization_post_jsapi")
    body = case["body"].encode("utf-8")
    request = PrepayRequest.model_validate_json(body)
    assert request.payer == Payer(openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert request.to_json() == body


def test_a_full_h5_request() -> None:
    request = PrepayRequest(
        **BASE | {"amount": Amount(total=1)},
        time_expire="2018-06-08T10:34:56+08:00",
        attach="a" * 128,
        goods_tag="WXG",
        support_fapiao=False,
        detail=Detail(
            cost_price=608800,
            invoice_id="wx123",
            goods_detail=[GoodsDetail(merchant_goods_id="1246464644", quantity=1, unit_price=1)],
        ),
        scene_info=SceneInfo(
            payer_client_ip="14.23.150.211",
            device_id="013467007045764",
            store_info=StoreInfo(id="0001", name="腾讯大厦分店", area_code="440305"),
            h5_info=H5Info(type="iOS", app_name="王者荣耀"),
        ),
        settle_info=SettleInfo(profit_sharing=False),
    )
    again = PrepayRequest.model_validate_json(request.to_json())
    assert again == request
    assert json.loads(request.to_json())["scene_info"]["h5_info"] == {
        "type": "iOS",
        "app_name": "王者荣耀",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"out_trade_no": "12345"},
        {"out_trade_no": "1" * 33},
        {"out_trade_no": "order.0001"},
        {"out_trade_no": "订单000001"},
        {"description": "x" * 128},
        {"description": ""},
        {"attach": "x" * 129},
        {"time_expire": "2018-06-08 10:34:56"},
        {"notify_url": "https://example.com/notify?a=1"},
        {"notify_url": "ftp://example.com/notify"},
        {"notify_url": "/notify"},
        {"amount": {"total": 0}},
        {"appid": "w" * 33},
        {"unknown": 1},
    ],
)
def test_prepay_limits(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PrepayRequest.model_validate_json(json.dumps(BASE | change))


def test_time_expire_may_be_given_as_none() -> None:
    request = PrepayRequest.model_validate(BASE | {"time_expire": None})
    assert request.time_expire is None
    assert b"time_expire" not in request.to_json()


@pytest.mark.parametrize("out_trade_no", ["123456", "A" * 32, "a-b_c|d*e"])
def test_out_trade_no_alphabet(out_trade_no: str) -> None:
    assert PrepayRequest.model_validate(BASE | {"out_trade_no": out_trade_no})


def test_h5_type_and_goods_quantity() -> None:
    with pytest.raises(ValidationError):
        H5Info(type="Web")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        GoodsDetail(merchant_goods_id="1", quantity=0, unit_price=1)


@pytest.mark.parametrize(
    "raw",
    [
        '{"prepay_id":"wx201410272009395522657a690389285100"}',
        '{"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016"}',
        '{"code_url":"weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"}',
    ],
)
def test_prepay_responses(raw: str) -> None:
    response = parse_json(PrepayResponse, raw)
    assert response.model_dump(exclude_none=True) == json.loads(raw)


def test_prepay_response_needs_one_result() -> None:
    with pytest.raises(MalformedInput):
        parse_json(PrepayResponse, b"{}")


# Shape of a TRANSACTION.SUCCESS plaintext (PROTOCOL.md §1.8 field list); values made up here.
PAID = {
    "transaction_id": "1217752501201407033233368018",
    "amount": {"payer_total": 100, "total": 100, "currency": "CNY", "payer_currency": "CNY"},
    "mchid": "1230000109",
    "trade_state": "SUCCESS",
    "bank_type": "CMC",
    "promotion_detail": [
        {
            "amount": 100,
            "wechatpay_contribute": 0,
            "coupon_id": "109519",
            "scope": "GLOBAL",
            "merchant_contribute": 0,
            "name": "单品惠-6",
            "other_contribute": 0,
            "currency": "CNY",
            "stock_id": "931386",
            "goods_detail": [
                {
                    "goods_remark": "商品备注信息",
                    "quantity": 1,
                    "discount_amount": 1,
                    "goods_id": "M1006",
                    "unit_price": 100,
                }
            ],
        }
    ],
    "success_time": "2018-06-08T10:34:56+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "out_trade_no": "1217752501201407033233368018",
    "appid": "wxd678efh567hg6787",
    "trade_state_desc": "支付成功",
    "trade_type": "MICROPAY",
    "attach": "自定义数据",
    "scene_info": {"device_id": "013467007045764"},
    "new_field": {"kept": True},
}


def test_transaction_parses_and_keeps_unknown_fields() -> None:
    tx = parse_json(Transaction, json.dumps(PAID, ensure_ascii=False).encode())
    assert tx.paid
    assert tx.amount is not None
    assert tx.amount.payer_total == 100
    assert tx.payer is not None
    assert tx.payer.openid == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert tx.promotion_detail is not None
    assert tx.promotion_detail[0].goods_detail is not None
    assert tx.promotion_detail[0].goods_detail[0].discount_amount == 1
    assert tx.model_extra == {"new_field": {"kept": True}}


def test_unpaid_transaction_has_no_transaction_id() -> None:
    raw = '{"appid":"wx1","mchid":"1","out_trade_no":"T000001","trade_state":"NOTPAY",'
    tx = parse_json(Transaction, raw + '"trade_state_desc":"订单未支付","amount":{"total":1}}')
    assert not tx.paid
    assert tx.transaction_id is None
    assert parse_json(Transaction, raw.replace("NOTPAY", "REFUND") + '"x":1}').paid


@pytest.mark.parametrize(
    "change",
    [
        {"trade_state": "PAID"},
        {"trade_type": "WEB"},
        {"amount": {"total": 100.0}},
        {"amount": {"total": "100"}},
        {"amount": {"total": -1}},
        {"appid": None},
    ],
)
def test_transaction_refuses(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedInput):
        parse_json(Transaction, json.dumps(PAID | change).encode())
