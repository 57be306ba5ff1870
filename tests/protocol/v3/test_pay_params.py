"""Client pay parameters: the official paySign / APP sign vectors, and the payer's check."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, UnsupportedSignatureType
from paydesk.protocol.v3.pay_params import (
    app_message,
    app_pay_params,
    jsapi_message,
    jsapi_pay_params,
    miniprogram_pay_params,
    verify_pay_sign,
)


def _case(doc: dict[str, Any], case_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in doc["cases"] if c["id"] == case_id)
    return found


@pytest.fixture(scope="module")
def mini(official_doc: dict[str, Any], official_key: RSAPrivateKey) -> dict[str, str]:
    case = _case(official_doc, "jsapi_miniprogram_paySign")
    return miniprogram_pay_params(
        appid=case["appId"],
        prepay_id=case["package"].removeprefix("prepay_id="),
        private_key=official_key,
        timestamp=int(case["timeStamp"]),
        nonce=case["nonceStr"],
    )


@pytest.fixture(scope="module")
def app(official_doc: dict[str, Any], official_key: RSAPrivateKey) -> dict[str, str]:
    case = _case(official_doc, "app_sign")
    return app_pay_params(
        appid=case["appid"],
        mchid="1900007291",
        prepay_id=case["prepayid"],
        private_key=official_key,
        timestamp=int(case["timestamp"]),
        nonce=case["noncestr"],
    )


def test_official_mini_program_pay_sign(official_doc: dict[str, Any], mini: dict[str, str]) -> None:
    case = _case(official_doc, "jsapi_miniprogram_paySign")
    assert mini == {
        "appId": case["appId"],
        "timeStamp": case["timeStamp"],
        "nonceStr": case["nonceStr"],
        "package": case["package"],
        "signType": case["signType"],
        "paySign": case["paySign"],
    }
    prepay_id = case["package"].removeprefix("prepay_id=")
    message = jsapi_message(case["appId"], case["timeStamp"], case["nonceStr"], prepay_id)
    assert message == case["message"].encode()
    assert jsapi_pay_params is miniprogram_pay_params


def test_official_app_sign(official_doc: dict[str, Any], app: dict[str, str]) -> None:
    case = _case(official_doc, "app_sign")
    assert app == {
        "appid": case["appid"],
        "partnerid": "1900007291",
        "prepayid": case["prepayid"],
        "package": case["package"],
        "noncestr": case["noncestr"],
        "timestamp": case["timestamp"],
        "sign": case["sign"],
    }
    message = app_message(case["appid"], case["timestamp"], case["noncestr"], case["prepayid"])
    assert message == case["message"].encode()


def test_the_payer_accepts_both(
    official_key: RSAPrivateKey, mini: dict[str, str], app: dict[str, str]
) -> None:
    verify_pay_sign(mini, official_key.public_key())
    verify_pay_sign(app, official_key.public_key())


@pytest.mark.parametrize("field", ["appId", "timeStamp", "nonceStr", "package", "paySign"])
def test_any_changed_mini_field_fails(
    official_key: RSAPrivateKey, mini: dict[str, str], field: str
) -> None:
    changed = mini | {field: "prepay_id=wx2" if field == "package" else mini[field][:-2] + "AA"}
    with pytest.raises(SignatureMismatch):
        verify_pay_sign(changed, official_key.public_key())


@pytest.mark.parametrize("field", ["appid", "partnerid", "prepayid", "noncestr", "timestamp"])
def test_any_changed_app_field_but_partnerid_fails(
    official_key: RSAPrivateKey, app: dict[str, str], field: str
) -> None:
    changed = app | {field: app[field] + "1"}
    if field == "partnerid":
        # partnerid is not in the signed message (AppServiceExtension.java); WeChat checks it
        # against the prepay order instead.
        verify_pay_sign(changed, official_key.public_key())
        return
    with pytest.raises(SignatureMismatch) as info:
        verify_pay_sign(changed, official_key.public_key())
    assert info.value.header == app["sign"]


def test_wrong_key_fails(other_key: RSAPrivateKey, mini: dict[str, str]) -> None:
    with pytest.raises(SignatureMismatch):
        verify_pay_sign(mini, other_key.public_key())


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256", "rsa", ""])
def test_only_rsa_sign_type(
    official_key: RSAPrivateKey, mini: dict[str, str], sign_type: str
) -> None:
    with pytest.raises(UnsupportedSignatureType):
        verify_pay_sign(mini | {"signType": sign_type}, official_key.public_key())


def test_app_package_must_be_sign_wxpay(official_key: RSAPrivateKey, app: dict[str, str]) -> None:
    with pytest.raises(UnsupportedSignatureType):
        verify_pay_sign(app | {"package": "prepay_id=x"}, official_key.public_key())


@pytest.mark.parametrize("field", ["appId", "timeStamp", "nonceStr", "package", "paySign"])
def test_missing_mini_fields_are_named(
    official_key: RSAPrivateKey, mini: dict[str, str], field: str
) -> None:
    with pytest.raises(MalformedInput) as info:
        verify_pay_sign(mini | {field: ""}, official_key.public_key())
    assert info.value.field == field


@pytest.mark.parametrize("field", ["appid", "prepayid", "noncestr", "timestamp", "sign"])
def test_missing_app_fields_are_named(
    official_key: RSAPrivateKey, app: dict[str, str], field: str
) -> None:
    with pytest.raises(MalformedInput) as info:
        verify_pay_sign(app | {field: ""}, official_key.public_key())
    assert info.value.field == field


def test_package_needs_the_prefix(official_key: RSAPrivateKey, mini: dict[str, str]) -> None:
    with pytest.raises(MalformedInput, match="prepay_id="):
        verify_pay_sign(mini | {"package": "wx201410272009"}, official_key.public_key())


@settings(max_examples=50)
@given(
    prepay_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
    timestamp=st.integers(min_value=0, max_value=2**40),
    nonce=st.text(st.characters(whitelist_categories=("Lu", "Nd")), min_size=1, max_size=32),
)
def test_round_trip(
    official_key: RSAPrivateKey, prepay_id: str, timestamp: int, nonce: str
) -> None:
    public = official_key.public_key()
    common = {"prepay_id": prepay_id, "timestamp": timestamp, "nonce": nonce}
    verify_pay_sign(miniprogram_pay_params(appid="wx1", private_key=official_key, **common), public)
    params = app_pay_params(appid="wx1", mchid="19", private_key=official_key, **common)
    verify_pay_sign(params, public)


def test_parameters_without_a_signature_are_not_pay_parameters(
    official_key: RSAPrivateKey,
) -> None:
    with pytest.raises(MalformedInput, match="neither paySign nor sign"):
        verify_pay_sign({"appId": "wx1", "signType": "RSA"}, official_key.public_key())
