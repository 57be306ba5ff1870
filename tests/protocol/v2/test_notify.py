"""paydesk.protocol.v2.notify: v2 payment and refund notifications, and the replies."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatRefundCrypto
from wechatpy.crypto.base import BaseRefundCrypto
from wechatpy.pay import WeChatPay

from paydesk.protocol.errors import (
    DecryptError,
    HostileXML,
    InputTooLarge,
    MalformedInput,
    SignatureMismatch,
    UnsupportedSignatureType,
)
from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
from paydesk.protocol.v2.notify import (
    NOTIFY_SUCCESS_XML,
    _req_info_cipher,
    decrypt_req_info,
    encrypt_req_info,
    notify_fail_xml,
    parse_payment_notification,
    parse_refund_notification,
)
from paydesk.protocol.v2.sign import SignType
from paydesk.protocol.xmlcodec import parse_xml, to_xml

# The APIv2 key of the official signing example (PROTOCOL.md §2.1), reused as our merchant's.
TEST_KEY = "192006250b4c09247ec02edce69f6a2d"

# --------------------------------------------------------------------------- replies


def test_the_success_reply_is_the_exact_documented_body() -> None:
    # PROTOCOL.md §2.3 / §3, from wechatpay-php README_APIv2.md "v2通知应答".
    assert NOTIFY_SUCCESS_XML == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
        b"<return_msg><![CDATA[OK]]></return_msg></xml>"
    )


def test_the_fail_reply_round_trips() -> None:
    assert parse_xml(notify_fail_xml("签名失败 ]]> <x>")) == {
        "return_code": "FAIL",
        "return_msg": "签名失败 ]]> <x>",
    }


# --------------------------------------------------------------------------- payment notify


def _resigned(sample: str, algorithm: SignType = "MD5", **changes: str) -> bytes:
    """The official sample, re-signed with our test key (its own key was never published)."""
    fields = {**parse_v2_fields(sample.encode()), **changes}
    return signed_xml(
        {k: v for k, v in fields.items() if v != "-"}, key=TEST_KEY, sign_type=algorithm
    ).encode()


def test_the_official_sample_cannot_be_verified_without_its_key(samples: dict[str, str]) -> None:
    with pytest.raises(SignatureMismatch):
        parse_payment_notification(
            samples["pay_success_notification_xml"].encode(), key=TEST_KEY, sign_type="MD5"
        )


def test_a_verified_notification_is_typed(samples: dict[str, str]) -> None:
    result = parse_payment_notification(
        _resigned(samples["pay_success_notification_xml"]), key=TEST_KEY, sign_type="MD5"
    )
    assert (result.appid, result.mch_id) == ("wx2421b1c4370ec43b", "10000100")
    assert (result.out_trade_no, result.transaction_id) == (
        "1409811653",
        "1004400740201409030005092168",
    )
    assert (result.total_fee, result.cash_fee) == (1, None)
    assert (result.openid, result.trade_type, result.bank_type) == (
        "oUpF8uMEb4qRXf22hE3X68TekukE",
        "JSAPI",
        "CFT",
    )
    assert (result.time_end, result.attach) == ("20140903131540", "支付测试")
    assert result.ok
    assert result.raw["coupon_fee"] == "10"


def test_cash_fee_and_hmac(samples: dict[str, str]) -> None:
    body = _resigned(
        samples["pay_success_notification_xml"],
        "HMAC-SHA256",
        cash_fee="1",
        sign_type="HMAC-SHA256",
        attach="-",
    )
    result = parse_payment_notification(body, key=TEST_KEY, sign_type="HMAC-SHA256")
    assert (result.cash_fee, result.attach) == (1, None)


def test_agrees_with_wechatpy(samples: dict[str, str]) -> None:
    body = _resigned(samples["pay_success_notification_xml"])
    theirs = WeChatPay(
        appid="wx2421b1c4370ec43b", api_key=TEST_KEY, mch_id="10000100"
    ).parse_payment_result(body)
    ours = parse_payment_notification(body, key=TEST_KEY, sign_type="MD5")
    assert {k: str(v) for k, v in theirs.items()} == ours.raw
    assert ours.total_fee == theirs["total_fee"]


def test_a_failed_payment_is_not_ok(samples: dict[str, str]) -> None:
    body = _resigned(samples["pay_success_notification_xml"], result_code="FAIL")
    assert not parse_payment_notification(body, key=TEST_KEY, sign_type="MD5").ok


@pytest.mark.parametrize(
    "field",
    [
        "appid",
        "mch_id",
        "out_trade_no",
        "transaction_id",
        "total_fee",
        "result_code",
        "return_code",
        "openid",
        "trade_type",
        "bank_type",
        "time_end",
    ],
)
def test_a_verified_notification_without_a_needed_field_is_malformed(
    samples: dict[str, str], field: str
) -> None:
    body = _resigned(samples["pay_success_notification_xml"], "MD5", **{field: "-"})
    with pytest.raises(MalformedInput, match=f"{field} is missing") as caught:
        parse_payment_notification(body, key=TEST_KEY, sign_type="MD5")
    assert caught.value.field == field


def test_an_amount_that_is_not_fen_is_malformed(samples: dict[str, str]) -> None:
    body = _resigned(samples["pay_success_notification_xml"], total_fee="0.01")
    with pytest.raises(MalformedInput, match="not a whole number of fen"):
        parse_payment_notification(body, key=TEST_KEY, sign_type="MD5")


def test_verification_comes_before_reading_fields(samples: dict[str, str]) -> None:
    body = _resigned(samples["pay_success_notification_xml"], total_fee="0.01").replace(
        b"0.01", b"0.02"
    )
    with pytest.raises(SignatureMismatch):
        parse_payment_notification(body, key=TEST_KEY, sign_type="MD5")


def test_a_sign_type_downgrade_is_refused(samples: dict[str, str]) -> None:
    body = _resigned(samples["pay_success_notification_xml"], sign_type="MD5")
    with pytest.raises(UnsupportedSignatureType):
        parse_payment_notification(body, key=TEST_KEY, sign_type="HMAC-SHA256")


def test_hostile_and_oversized_bodies_never_reach_verification() -> None:
    xxe = b'<!DOCTYPE xml [<!ENTITY k SYSTEM "file:///etc/passwd">]><xml><sign>&k;</sign></xml>'
    with pytest.raises(HostileXML):
        parse_payment_notification(xxe, key=TEST_KEY, sign_type="MD5")
    with pytest.raises(InputTooLarge):
        parse_payment_notification(
            b"<xml>" + b" " * 2048 + b"</xml>", key=TEST_KEY, sign_type="MD5", max_bytes=1024
        )


# --------------------------------------------------------------------------- req_info

REFUND_FIELDS = {
    "out_refund_no": "131811191610442717309",
    "out_trade_no": "71106718111915575302817",
    "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
    "refund_fee": "3960",
    "refund_id": "50000408942018111907145868882",
    "refund_recv_accout": "支付用户零钱",
    "refund_request_source": "API",
    "refund_status": "SUCCESS",
    "settlement_refund_fee": "3960",
    "settlement_total_fee": "3960",
    "success_time": "2018-11-19 16:24:13",
    "total_fee": "3960",
    "transaction_id": "4200000215201811190261405420",
}


def test_the_official_req_info_plaintext_sample_has_these_fields(samples: dict[str, str]) -> None:
    assert (
        parse_xml(samples["refund_notification_req_info_plaintext_xml"], root="root")
        == REFUND_FIELDS
    )


def test_req_info_round_trips_through_wechatpy_both_ways(samples: dict[str, str]) -> None:
    ours = encrypt_req_info(REFUND_FIELDS, key=TEST_KEY)
    refund_crypto = WeChatRefundCrypto(TEST_KEY)
    assert (
        BaseRefundCrypto(refund_crypto.key)._decrypt(ours)
        == to_xml(REFUND_FIELDS, root="root").encode()
    )
    # wechatpy pads to 32-byte blocks: decrypt_req_info accepts that too.
    theirs = BaseRefundCrypto(refund_crypto.key)._encrypt(
        samples["refund_notification_req_info_plaintext_xml"]
    )
    assert decrypt_req_info(theirs.decode(), key=TEST_KEY) == REFUND_FIELDS


def test_a_refund_notification_is_decrypted_and_typed() -> None:
    body = to_xml(
        {
            "return_code": "SUCCESS",
            "appid": "wx2421b1c4370ec43b",
            "mch_id": "10000100",
            "nonce_str": "TeqClE3i0mvn3DrK",
            "req_info": encrypt_req_info(REFUND_FIELDS, key=TEST_KEY),
        }
    ).encode()
    result = parse_refund_notification(body, key=TEST_KEY)
    assert (result.appid, result.mch_id) == ("wx2421b1c4370ec43b", "10000100")
    assert (result.out_trade_no, result.transaction_id) == (
        "71106718111915575302817",
        "4200000215201811190261405420",
    )
    assert (result.out_refund_no, result.refund_id) == (
        "131811191610442717309",
        "50000408942018111907145868882",
    )
    assert (result.total_fee, result.refund_fee, result.settlement_refund_fee) == (3960, 3960, 3960)
    assert (result.refund_status, result.success_time) == ("SUCCESS", "2018-11-19 16:24:13")
    assert result.refund_recv_accout == "支付用户零钱"
    assert result.ok
    assert result.raw == REFUND_FIELDS


def test_a_refund_that_did_not_succeed_is_not_ok() -> None:
    fields = {
        k: v for k, v in REFUND_FIELDS.items() if k not in ("success_time", "settlement_refund_fee")
    }
    body = to_xml(
        {
            "return_code": "SUCCESS",
            "appid": "wx1",
            "mch_id": "1",
            "req_info": encrypt_req_info({**fields, "refund_status": "REFUNDCLOSE"}, key=TEST_KEY),
        }
    )
    result = parse_refund_notification(body.encode(), key=TEST_KEY)
    assert not result.ok
    assert (result.success_time, result.settlement_refund_fee) == (None, None)


def test_a_failed_or_empty_refund_envelope_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="return_code is 'FAIL'"):
        parse_refund_notification(b"<xml><return_code>FAIL</return_code></xml>", key=TEST_KEY)
    with pytest.raises(MalformedInput, match="return_code is None"):
        parse_refund_notification(b"<xml><appid>wx1</appid></xml>", key=TEST_KEY)
    with pytest.raises(MalformedInput, match="req_info is missing"):
        parse_refund_notification(b"<xml><return_code>SUCCESS</return_code></xml>", key=TEST_KEY)


def test_a_wrong_key_is_a_decrypt_error() -> None:
    req_info = encrypt_req_info(REFUND_FIELDS, key=TEST_KEY)
    with pytest.raises(DecryptError):
        decrypt_req_info(req_info, key="another key entirely, 32 chars!")


@pytest.mark.parametrize(
    ("req_info", "says"),
    [
        ("not base64!", "not base64"),
        ("", "0 bytes"),
        (base64.b64encode(b"x" * 15).decode(), "15 bytes"),
    ],
)
def test_damaged_req_info_is_a_decrypt_error(req_info: str, says: str) -> None:
    with pytest.raises(DecryptError, match=says):
        decrypt_req_info(req_info, key=TEST_KEY)


def _raw_encrypt(plain: bytes) -> str:
    encryptor = _req_info_cipher(TEST_KEY).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@pytest.mark.parametrize(
    "padded",
    [
        b"<root></root>" + bytes(3),
        b"<root></root>" + b"\x02\x02\x03",
        b"A" * 15 + b"\x21" + b"\x21" * 32,
    ],
    ids=["zero-pad", "unequal-pad", "pad-over-32"],
)
def test_bad_padding_is_a_decrypt_error(padded: bytes) -> None:
    with pytest.raises(DecryptError, match="padding is wrong"):
        decrypt_req_info(_raw_encrypt(padded), key=TEST_KEY)


@pytest.mark.parametrize(
    "plain", [b"not xml at all", b"<xml><a>1</a></xml>", b"<root><a><b>1</b></a></root>"]
)
def test_a_plaintext_that_is_not_root_xml_is_a_decrypt_error(plain: bytes) -> None:
    count = 16 - len(plain) % 16
    with pytest.raises(DecryptError, match="did not decrypt to <root> XML"):
        decrypt_req_info(_raw_encrypt(plain + bytes([count]) * count), key=TEST_KEY)


FIELDS = st.dictionaries(
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
    st.text(
        st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"),
        max_size=30,
    ),
    max_size=6,
)


@settings(max_examples=75)
@given(fields=FIELDS, key=st.text(min_size=1, max_size=32))
def test_req_info_round_trips(fields: dict[str, str], key: str) -> None:
    assert decrypt_req_info(encrypt_req_info(fields, key=key), key=key) == fields


@settings(max_examples=75)
@given(fields=FIELDS, data=st.data())
def test_a_changed_req_info_byte_never_yields_the_original(
    fields: dict[str, str], data: st.DataObject
) -> None:
    secret = bytearray(base64.b64decode(encrypt_req_info(fields, key=TEST_KEY)))
    index = data.draw(st.integers(0, len(secret) - 1))
    secret[index] ^= data.draw(st.integers(1, 255))
    # ECB has no integrity (reliability note 2.5): a change cannot go unnoticed *and* keep
    # the original fields, but it may decrypt to other fields — hence the refund query.
    try:
        decrypted = decrypt_req_info(base64.b64encode(secret).decode(), key=TEST_KEY)
    except DecryptError:
        return
    assert decrypted != fields
