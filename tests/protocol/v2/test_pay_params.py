"""paydesk.protocol.v2.pay_params: the v2 second signature for JSAPI / mini program and APP."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.pay import WeChatPay

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, UnsupportedSignatureType
from paydesk.protocol.v2.pay_params import (
    APP_FIELDS,
    JSAPI_FIELDS,
    app_pay_params_v2,
    jsapi_pay_params_v2,
    prepay_id_of,
    verify_pay_sign_v2,
)
from paydesk.protocol.v2.sign import SIGN_TYPES, SignType

# The APIv2 key of the official signing example (PROTOCOL.md §2.1), reused as our merchant's.
TEST_KEY = "192006250b4c09247ec02edce69f6a2d"


def _jsapi(sign_type: SignType = "MD5") -> dict[str, str]:
    return jsapi_pay_params_v2(
        appid="wx2421b1c4370ec43b",
        prepay_id="wx201410272009395522657a690389285100",
        key=TEST_KEY,
        sign_type=sign_type,
        timestamp=1414561699,
        nonce="e61463f8efa94090b1f366cccfbbb444",
    )


def _app(sign_type: SignType = "MD5") -> dict[str, str]:
    return app_pay_params_v2(
        appid="wx2421b1c4370ec43b",
        mchid="10000100",
        prepay_id="wx201410272009395522657a690389285100",
        key=TEST_KEY,
        sign_type=sign_type,
        timestamp=1414561699,
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    )


def test_the_official_requestpayment_example(pay_sign_case: dict[str, Any]) -> None:
    official = pay_sign_case["params"]
    params = jsapi_pay_params_v2(
        appid=official["appId"],
        prepay_id=official["package"].removeprefix("prepay_id="),
        key=pay_sign_case["key"],
        sign_type="MD5",
        timestamp=int(official["timeStamp"]),
        nonce=official["nonceStr"],
    )
    assert params == {**official, "paySign": pay_sign_case["paySign"]}
    verify_pay_sign_v2(params, pay_sign_case["key"], "MD5")


def test_jsapi_params_have_the_documented_shape() -> None:
    params = _jsapi("HMAC-SHA256")
    assert list(params) == [*JSAPI_FIELDS, "paySign"]
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert params["timeStamp"] == "1414561699"
    assert params["signType"] == "HMAC-SHA256"
    verify_pay_sign_v2(params, TEST_KEY, "HMAC-SHA256")


def test_app_params_have_the_documented_shape() -> None:
    params = _app()
    assert list(params) == [*APP_FIELDS, "sign"]
    assert params["package"] == "Sign=WXPay"
    assert params["partnerid"] == "10000100"
    assert params["prepayid"] == "wx201410272009395522657a690389285100"
    verify_pay_sign_v2(params, TEST_KEY, "MD5")
    verify_pay_sign_v2(_app("HMAC-SHA256"), TEST_KEY, "HMAC-SHA256")


def test_agrees_with_wechatpy() -> None:
    pay = WeChatPay(appid="wx2421b1c4370ec43b", api_key=TEST_KEY, mch_id="10000100")
    theirs = pay.jsapi.get_jsapi_params(
        "wx201410272009395522657a690389285100",
        timestamp="1414561699",
        nonce_str="e61463f8efa94090b1f366cccfbbb444",
    )
    assert _jsapi() == theirs
    theirs = pay.order.get_appapi_params(
        "wx201410272009395522657a690389285100",
        timestamp="1414561699",
        nonce_str="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    )
    assert _app() == theirs


@pytest.mark.parametrize("prepay_id", ["", "prepay_id=wx1"])
def test_the_prepay_id_must_be_bare(prepay_id: str) -> None:
    with pytest.raises(MalformedInput, match="bare prepay_id"):
        jsapi_pay_params_v2(
            appid="wx1", prepay_id=prepay_id, key="k", sign_type="MD5", timestamp=1, nonce="n"
        )
    with pytest.raises(MalformedInput, match="bare prepay_id"):
        app_pay_params_v2(
            appid="wx1",
            mchid="1",
            prepay_id=prepay_id,
            key="k",
            sign_type="MD5",
            timestamp=1,
            nonce="n",
        )


def test_a_sign_type_that_is_no_algorithm_is_refused() -> None:
    with pytest.raises(UnsupportedSignatureType):
        _jsapi("RSA")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedSignatureType):
        verify_pay_sign_v2(_jsapi(), TEST_KEY, "RSA")  # type: ignore[arg-type]


def test_the_payer_checks_sign_type_against_the_merchant() -> None:
    with pytest.raises(
        UnsupportedSignatureType, match="signType 'MD5' is not the merchant's HMAC-SHA256"
    ):
        verify_pay_sign_v2(_jsapi("MD5"), TEST_KEY, "HMAC-SHA256")
    with pytest.raises(UnsupportedSignatureType):
        verify_pay_sign_v2({**_jsapi(), "signType": "RSA"}, TEST_KEY, "MD5")


@pytest.mark.parametrize("field", JSAPI_FIELDS)
def test_a_missing_jsapi_field_is_named(field: str) -> None:
    params = _jsapi()
    del params[field]
    with pytest.raises(MalformedInput, match=f"{field} is missing") as caught:
        verify_pay_sign_v2(params, TEST_KEY, "MD5")
    assert caught.value.field == field


@pytest.mark.parametrize("field", [*APP_FIELDS, "sign"])
def test_a_missing_app_field_is_named(field: str) -> None:
    params = _app()
    del params[field]
    with pytest.raises(MalformedInput, match=f"{field} is missing"):
        verify_pay_sign_v2(params, TEST_KEY, "MD5")


def test_an_app_package_other_than_sign_wxpay_is_refused() -> None:
    with pytest.raises(MalformedInput, match="APP package must be 'Sign=WXPay'"):
        verify_pay_sign_v2({**_app(), "package": "prepay_id=wx1"}, TEST_KEY, "MD5")


def test_fields_outside_the_signed_set_are_ignored() -> None:
    verify_pay_sign_v2({**_jsapi(), "success": "function"}, TEST_KEY, "MD5")


@settings(max_examples=50)
@given(
    sign_type=st.sampled_from(SIGN_TYPES), data=st.data(), kind=st.sampled_from(["jsapi", "app"])
)
def test_any_changed_field_fails(sign_type: SignType, data: st.DataObject, kind: str) -> None:
    params = _jsapi(sign_type) if kind == "jsapi" else _app(sign_type)
    fixed = {"signType", "package"}
    name = data.draw(st.sampled_from([n for n in params if n not in fixed]))
    params[name] = data.draw(st.text(min_size=1, max_size=40).filter(lambda v: v != params[name]))
    with pytest.raises((SignatureMismatch, MalformedInput)):
        verify_pay_sign_v2(params, TEST_KEY, sign_type)


def test_prepay_id_of_reads_both_shapes() -> None:
    assert prepay_id_of(_jsapi()) == "wx201410272009395522657a690389285100"
    assert prepay_id_of(_app()) == "wx201410272009395522657a690389285100"
    with pytest.raises(MalformedInput, match="prepayid is missing"):
        prepay_id_of({"package": "prepay_id="})
