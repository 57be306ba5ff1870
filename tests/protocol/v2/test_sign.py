"""paydesk.protocol.v2.sign: the v2 MD5 / HMAC-SHA256 signature."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, UnsupportedSignatureType
from paydesk.protocol.v2.codec import parse_v2_fields
from paydesk.protocol.v2.sign import (
    SIGN_TYPES,
    SignType,
    check_sign_type,
    sign_v2,
    string_to_sign,
    verify_signature_field,
    verify_v2,
)

# The APIv2 key of the official signing example (PROTOCOL.md §2.1), reused as our merchant's.
TEST_KEY = "192006250b4c09247ec02edce69f6a2d"

# --------------------------------------------------------------------------- official vector


def test_string_to_sign_reproduces_the_official_string_a(official: dict[str, Any]) -> None:
    assert string_to_sign(official["params"]) == official["stringA"]
    assert f"{official['stringA']}&key={official['key']}" == official["stringSignTemp"]


def test_the_official_xml_parses_and_verifies(official: dict[str, Any]) -> None:
    fields = parse_v2_fields(official["xml"])
    assert fields == {**official["params"], "sign": official["md5_sign"]}
    verify_v2(fields, official["key"], "MD5")


def test_md5_and_hmac_reproduce_the_official_example(official: dict[str, Any]) -> None:
    assert sign_v2(official["params"], official["key"], "MD5") == official["md5_sign"]
    assert (
        sign_v2(official["params"], official["key"], "HMAC-SHA256")
        == (official["hmac_sha256_sign"])
    )


@pytest.mark.parametrize(
    ("sign_type", "field"), [("MD5", "md5_sign"), ("HMAC-SHA256", "hmac_sha256_sign")]
)
def test_the_official_example_verifies(
    official: dict[str, Any], sign_type: SignType, field: str
) -> None:
    verify_v2({**official["params"], "sign": official[field]}, official["key"], sign_type)


def test_the_requestpayment_example_signs_like_any_v2_parameter_set(
    pay_sign_case: dict[str, Any],
) -> None:
    assert sign_v2(pay_sign_case["params"], pay_sign_case["key"], "MD5") == pay_sign_case["paySign"]
    string_a = string_to_sign(pay_sign_case["params"])
    assert f"{string_a}&key={pay_sign_case['key']}" == pay_sign_case["stringSignTemp"]


# --------------------------------------------------------------------------- the rules


def test_sign_and_empty_values_are_dropped_but_zero_is_not() -> None:
    params = {"b": "2", "a": 1, "sign": "X", "c": "", "d": 0, "e": None}
    assert string_to_sign(params) == "a=1&b=2&d=0"


def test_names_sort_by_ascii_case_sensitively_and_values_are_not_url_encoded() -> None:
    assert string_to_sign({"b": "x y&z", "B": "1", "_": "支付"}) == "B=1&_=支付&b=x y&z"


def test_an_empty_parameter_set_signs_the_key_alone() -> None:
    assert string_to_sign({}) == ""
    assert sign_v2({}, "k", "MD5") == calculate_signature({}, "k")


@pytest.mark.parametrize("bad", ["SHA1", "md5", "RSA", ""])
def test_only_the_two_v2_algorithms_exist(bad: str) -> None:
    with pytest.raises(UnsupportedSignatureType, match="not MD5 or HMAC-SHA256"):
        check_sign_type(bad)
    with pytest.raises(UnsupportedSignatureType):
        sign_v2({"a": "1"}, "k", bad)  # type: ignore[arg-type]
    assert [check_sign_type(name) for name in SIGN_TYPES] == ["MD5", "HMAC-SHA256"]


def test_text_that_cannot_be_utf8_is_malformed_input() -> None:
    with pytest.raises(MalformedInput, match="not valid UTF-8"):
        sign_v2({"a": "\udc80"}, "k", "MD5")


# --------------------------------------------------------------------------- verification


def _signed(algorithm: SignType = "MD5", **extra: str) -> dict[str, str]:
    fields = {"return_code": "SUCCESS", "nonce_str": "n1", "total_fee": "100", **extra}
    return {**fields, "sign": sign_v2(fields, TEST_KEY, algorithm)}


def test_a_missing_sign_is_a_mismatch() -> None:
    fields = _signed()
    del fields["sign"]
    with pytest.raises(SignatureMismatch, match="sign is missing"):
        verify_v2(fields, TEST_KEY, "MD5")
    with pytest.raises(SignatureMismatch, match="sign is missing"):
        verify_v2({**fields, "sign": ""}, TEST_KEY, "MD5")


def test_a_wrong_sign_carries_the_signed_string_as_evidence_but_never_the_key() -> None:
    fields = _signed(total_fee="100")
    fields["total_fee"] = "1"
    with pytest.raises(SignatureMismatch, match=r"sign does not match \(MD5\)") as caught:
        verify_v2(fields, TEST_KEY, "MD5")
    assert caught.value.message == b"nonce_str=n1&return_code=SUCCESS&total_fee=1"
    assert caught.value.header == fields["sign"]
    assert TEST_KEY not in str(caught.value.evidence())


def test_lowercase_hex_is_not_accepted() -> None:
    fields = _signed()
    with pytest.raises(SignatureMismatch):
        verify_v2({**fields, "sign": fields["sign"].lower()}, TEST_KEY, "MD5")


def test_the_algorithm_is_pinned_by_the_merchant_not_chosen_by_the_body() -> None:
    hmac_signed = _signed("HMAC-SHA256", sign_type="HMAC-SHA256")
    verify_v2(hmac_signed, TEST_KEY, "HMAC-SHA256")
    with pytest.raises(UnsupportedSignatureType, match="body says sign_type 'HMAC-SHA256'"):
        verify_v2(hmac_signed, TEST_KEY, "MD5")
    downgraded = _signed("MD5", sign_type="MD5")
    with pytest.raises(UnsupportedSignatureType, match="merchant config pins HMAC-SHA256"):
        verify_v2(downgraded, TEST_KEY, "HMAC-SHA256")
    # Without a sign_type field, the pinned algorithm is simply used.
    with pytest.raises(SignatureMismatch):
        verify_v2(_signed("MD5"), TEST_KEY, "HMAC-SHA256")
    verify_v2(_signed("MD5", sign_type=""), TEST_KEY, "MD5")


def test_a_pinned_value_that_is_no_algorithm_is_refused() -> None:
    with pytest.raises(UnsupportedSignatureType):
        verify_v2(_signed(), TEST_KEY, "SHA1")  # type: ignore[arg-type]


def test_a_signature_in_another_field_verifies_the_same_way() -> None:
    params = {"a": "1", "paySign": sign_v2({"a": "1"}, "k", "HMAC-SHA256")}
    verify_signature_field(params, "k", "HMAC-SHA256", signature_field="paySign")
    with pytest.raises(SignatureMismatch, match="paySign does not match"):
        verify_signature_field({**params, "a": "2"}, "k", "HMAC-SHA256", signature_field="paySign")


# --------------------------------------------------------------------------- properties

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True).filter(lambda n: n != "sign")
VALUES = st.text(min_size=1, max_size=20)
PARAMS = st.dictionaries(NAMES, VALUES, min_size=1, max_size=8)
SIGN_TYPE = st.sampled_from(SIGN_TYPES)


@settings(max_examples=100)
@given(params=PARAMS)
def test_agrees_with_wechatpy(params: dict[str, str]) -> None:
    assert sign_v2(params, TEST_KEY, "MD5") == calculate_signature(params, TEST_KEY)
    assert sign_v2(params, TEST_KEY, "HMAC-SHA256") == calculate_signature_hmac(params, TEST_KEY)


@settings(max_examples=100)
@given(params=PARAMS, sign_type=SIGN_TYPE)
def test_sign_then_verify_round_trips(params: dict[str, str], sign_type: SignType) -> None:
    verify_v2({**params, "sign": sign_v2(params, TEST_KEY, sign_type)}, TEST_KEY, sign_type)


@settings(max_examples=100)
@given(params=PARAMS, sign_type=SIGN_TYPE, data=st.data())
def test_any_changed_value_fails(
    params: dict[str, str], sign_type: SignType, data: st.DataObject
) -> None:
    signed = {**params, "sign": sign_v2(params, TEST_KEY, sign_type)}
    name = data.draw(st.sampled_from(sorted(params)))
    signed[name] = data.draw(VALUES.filter(lambda v: v != params[name]))
    with pytest.raises(SignatureMismatch):
        verify_v2(signed, TEST_KEY, sign_type)


@settings(max_examples=100)
@given(params=PARAMS, sign_type=SIGN_TYPE, name=NAMES, value=VALUES)
def test_any_added_field_fails(
    params: dict[str, str], sign_type: SignType, name: str, value: str
) -> None:
    signed = {**params, "sign": sign_v2(params, TEST_KEY, sign_type)}
    signed[name] = params.get(name, "") + value
    with pytest.raises(SignatureMismatch):
        verify_v2(signed, TEST_KEY, sign_type)


@settings(max_examples=100)
@given(params=PARAMS, sign_type=SIGN_TYPE, data=st.data())
def test_any_changed_signature_character_fails(
    params: dict[str, str], sign_type: SignType, data: st.DataObject
) -> None:
    sign = sign_v2(params, TEST_KEY, sign_type)
    index = data.draw(st.integers(0, len(sign) - 1))
    other = data.draw(st.sampled_from("0123456789ABCDEF").filter(lambda c: c != sign[index]))
    with pytest.raises(SignatureMismatch):
        verify_v2({**params, "sign": sign[:index] + other + sign[index + 1 :]}, TEST_KEY, sign_type)


@settings(max_examples=50)
@given(
    params=PARAMS,
    sign_type=SIGN_TYPE,
    key=st.text(min_size=1, max_size=32).filter(lambda k: k != TEST_KEY),
)
def test_another_key_fails(params: dict[str, str], sign_type: SignType, key: str) -> None:
    signed = {**params, "sign": sign_v2(params, key, sign_type)}
    with pytest.raises(SignatureMismatch):
        verify_v2(signed, TEST_KEY, sign_type)
