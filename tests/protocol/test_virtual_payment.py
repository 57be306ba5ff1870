"""paydesk.protocol.virtual_payment: xpay pay_sig and user signature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.virtual_payment import (
    CLIENT_URI,
    pay_sig,
    user_signature,
    virtual_payment_params,
)

# Copied verbatim from /work/shared/wechat/vectors/ (keeps its "source").
VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "miniprogram_virtual_payment_signatures.json").read_text(
        encoding="utf-8"
    )
)
CASES = {case["id"]: case for case in VECTORS["cases"]}


def test_official_query_user_balance() -> None:
    case = CASES["official_query_user_balance"]
    assert pay_sig(case["app_key"], case["uri"], case["post_body"]) == case["pay_sig"]
    assert user_signature(case["session_key"], case["post_body"]) == case["signature"]


def test_official_b2b_getorder() -> None:
    case = CASES["b2b_getorder"]
    assert pay_sig(case["app_key"], case["uri"], case["post_body"]) == case["pay_sig"]


def test_the_client_call_signs_the_exact_signdata_string() -> None:
    # Not an official expected value (the vector says so): the official algorithm applied to
    # the official signData example, checking the "requestVirtualPayment&" prefix.
    case = CASES["requestVirtualPayment_client_side_computed"]
    assert case["uri"] == CLIENT_URI
    params = virtual_payment_params(
        sign_data=json.loads(case["signData"]),
        app_key=case["app_key"],
        session_key=case["session_key"],
        mode=case["mode"],
    )
    assert params == {
        "signData": case["signData"],
        "paySig": case["pay_sig"],
        "signature": case["signature"],
        "mode": case["mode"],
    }


def test_signdata_keeps_chinese_readable_and_signs_it_as_sent() -> None:
    params = virtual_payment_params(
        sign_data={
            "offerId": "1",
            "buyQuantity": 1,
            "env": 1,
            "currencyType": "CNY",
            "outTradeNo": "o1",
            "attach": "附加",
        },
        app_key="sandbox-key",
        session_key="k==",
        mode="short_series_coin",
    )
    assert params["signData"].endswith('"attach":"附加"}')
    assert params["paySig"] == pay_sig("sandbox-key", "requestVirtualPayment", params["signData"])
    assert params["signature"] == user_signature("k==", params["signData"])


COIN = {
    "offerId": "1",
    "buyQuantity": 1,
    "env": 0,
    "currencyType": "CNY",
    "outTradeNo": "o1",
    "attach": "a",
}


@pytest.mark.parametrize("field", sorted(COIN))
def test_a_missing_signdata_field_is_named(field: str) -> None:
    with pytest.raises(MalformedInput, match=f"signData needs {field}"):
        virtual_payment_params(
            sign_data={k: v for k, v in COIN.items() if k != field},
            app_key="k",
            session_key="s",
            mode="short_series_coin",
        )


@pytest.mark.parametrize("field", ["productId", "goodsPrice"])
def test_goods_mode_needs_a_product_and_a_price(field: str) -> None:
    goods = {**COIN, "productId": "p1", "goodsPrice": 100}
    virtual_payment_params(sign_data=goods, app_key="k", session_key="s", mode="short_series_goods")
    with pytest.raises(MalformedInput, match=f"signData needs {field}"):
        virtual_payment_params(
            sign_data={k: v for k, v in goods.items() if k != field},
            app_key="k",
            session_key="s",
            mode="short_series_goods",
        )


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"goodsPrice": 9.9}, "signData.goodsPrice"),
        ({"x": {"y": 0.1}}, "signData.x.y"),
        ({"x": [1, 2.5]}, r"signData.x\[1\]"),
    ],
)
def test_a_float_anywhere_is_refused(extra: dict[str, Any], path: str) -> None:
    with pytest.raises(MalformedInput, match=f"{path} is a float"):
        virtual_payment_params(
            sign_data={**COIN, **extra}, app_key="k", session_key="s", mode="short_series_coin"
        )


def test_nested_whole_numbers_are_fine() -> None:
    sign_data = {**COIN, "extra": {"ids": [1, 2], "pair": (3, "x")}}
    params = virtual_payment_params(
        sign_data=sign_data, app_key="k", session_key="s", mode="short_series_coin"
    )
    assert params["signData"].endswith('"extra":{"ids":[1,2],"pair":[3,"x"]}}')


def test_an_unknown_mode_or_unserialisable_data_is_refused() -> None:
    with pytest.raises(MalformedInput, match="mode 'short_series_x' is unknown"):
        virtual_payment_params(sign_data=COIN, app_key="k", session_key="s", mode="short_series_x")  # type: ignore[arg-type]
    with pytest.raises(MalformedInput, match="cannot be JSON"):
        virtual_payment_params(
            sign_data={**COIN, "x": {1, 2}}, app_key="k", session_key="s", mode="short_series_coin"
        )


def test_text_that_cannot_be_utf8_is_refused() -> None:
    with pytest.raises(MalformedInput, match="not valid UTF-8"):
        pay_sig("k", "/xpay/query_user_balance", "\udc80")


@settings(max_examples=100)
@given(
    app_key=st.text(min_size=1, max_size=32),
    body=st.text(max_size=60),
    change=st.text(min_size=1, max_size=3),
)
def test_any_change_to_the_body_changes_both_signatures(
    app_key: str, body: str, change: str
) -> None:
    uri = "/xpay/query_user_balance"
    assert pay_sig(app_key, uri, body) != pay_sig(app_key, uri, body + change)
    assert user_signature(app_key, body) != user_signature(app_key, body + change)
