"""Notifications end to end: seal (sandbox) → open (merchant), verify-first, every refusal."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from paydesk.protocol.errors import (
    DecryptError,
    InputTooLarge,
    MalformedInput,
    SignatureMismatch,
    SignTestProbe,
    StaleTimestamp,
    UnknownSerial,
)
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.notify import (
    MAX_NOTIFICATION_BYTES,
    open_notification,
    seal_notification,
)
from paydesk.protocol.v3.verify import KeySet, sign_response

KEY = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
SERIAL = "PUB_KEY_ID_0000000000000024101100397200000006"
NOW = 1_700_000_000
# Shape of a TRANSACTION.SUCCESS plaintext (PROTOCOL.md §1.8); values made up here.
TRANSACTION = {
    "mchid": "1900007291",
    "appid": "wxd678efh567hg6787",
    "out_trade_no": "1217752501201407033233368018",
    "transaction_id": "4200000000201407033233368018",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "attach": "",
    "success_time": "2018-06-08T10:34:56+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
}
REFUND = {
    "mchid": "1900007291",
    "out_trade_no": "1217752501201407033233368018",
    "transaction_id": "4200000000201407033233368018",
    "refund_id": "50200207182018070300011301001",
    "out_refund_no": "R1217752501201407033233368018",
    "refund_status": "SUCCESS",
    "success_time": "2018-06-08T10:34:56+08:00",
    "user_received_account": "支付用户零钱",
    "amount": {"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100},
}


@pytest.fixture(scope="module")
def cipher() -> Apiv3Cipher:
    return Apiv3Cipher(KEY)


@pytest.fixture(scope="module")
def keys(platform_key: RSAPrivateKey) -> KeySet:
    return KeySet.from_public_key(SERIAL, platform_key.public_key())


def _seal(
    platform_key: RSAPrivateKey,
    cipher: Apiv3Cipher,
    plaintext: dict[str, Any] | bytes = TRANSACTION,
    **overrides: Any,
) -> tuple[dict[str, str], bytes]:
    args: dict[str, Any] = {
        "event_id": "EV-2018022511223320873",
        "create_time": "2015-05-20T13:29:35+08:00",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "original_type": "transaction",
        "associated_data": "transaction",
        "resource_plaintext": plaintext
        if isinstance(plaintext, bytes)
        else json.dumps(plaintext, ensure_ascii=False).encode(),
        "cipher": cipher,
        "resource_nonce": "fdasflkja484",
        "platform_key": platform_key,
        "serial": SERIAL,
        "timestamp": NOW,
        "sign_nonce": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    }
    return seal_notification(**(args | overrides))


def test_seal_then_open_a_payment(
    platform_key: RSAPrivateKey, cipher: Apiv3Cipher, keys: KeySet
) -> None:
    headers, body = _seal(platform_key, cipher)
    assert headers["Content-Type"] == "application/json"
    assert headers["Wechatpay-Serial"] == SERIAL
    envelope = json.loads(body)
    assert list(envelope) == [
        "id", "create_time", "resource_type", "event_type", "summary", "resource"
    ]  # fmt: skip
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert "支付成功".encode() in body  # UTF-8 as sent, not \\u escapes
    opened = open_notification(headers, body, keys, cipher, now=NOW)
    assert opened.event_type == "TRANSACTION.SUCCESS"
    assert opened.envelope.id == "EV-2018022511223320873"
    assert opened.signed.nonce == "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    assert json.loads(opened.plaintext) == TRANSACTION
    transaction = opened.transaction()
    assert (transaction.trade_state, transaction.amount and transaction.amount.total) == (
        "SUCCESS",
        100,
    )


def test_seal_then_open_a_refund(
    platform_key: RSAPrivateKey, cipher: Apiv3Cipher, keys: KeySet
) -> None:
    headers, body = _seal(
        platform_key,
        cipher,
        REFUND,
        event_type="REFUND.SUCCESS",
        summary="退款成功",
        original_type="refund",
        associated_data="",
    )
    opened = open_notification(Headers(headers), body, keys, cipher, now=NOW)
    assert opened.refund().refund_status == "SUCCESS"
    with pytest.raises(MalformedInput, match="not a 'transaction'") as info:
        opened.transaction()
    assert info.value.field == "original_type"


def test_refund_on_a_payment_is_refused(
    platform_key: RSAPrivateKey, cipher: Apiv3Cipher, keys: KeySet
) -> None:
    headers, body = _seal(platform_key, cipher)
    with pytest.raises(MalformedInput, match="not a 'refund'"):
        open_notification(httpx.Headers(headers), body, keys, cipher, now=NOW).refund()


def test_bad_plaintext_is_refused_on_demand(
    platform_key: RSAPrivateKey, cipher: Apiv3Cipher, keys: KeySet
) -> None:
    headers, body = _seal(platform_key, cipher, TRANSACTION | {"amount": {"total": 1.5}})
    opened = open_notification(headers, body, keys, cipher, now=NOW)
    with pytest.raises(MalformedInput) as info:
        opened.transaction()
    assert info.value.field == "amount.total"


def test_size_cap_comes_before_anything_else(keys: KeySet, cipher: Apiv3Cipher) -> None:
    with pytest.raises(InputTooLarge):
        open_notification({}, b"x" * (MAX_NOTIFICATION_BYTES + 1), keys, cipher, now=NOW)
    with pytest.raises(InputTooLarge):
        open_notification({}, b"x" * 11, keys, cipher, now=NOW, max_body=10)


def test_verification_comes_before_parsing(
    platform_key: RSAPrivateKey, cipher: Apiv3Cipher, keys: KeySet
) -> None:
    # An unsigned non-JSON body fails on its signature, not on its JSON.
    headers, _ = _seal(platform_key, cipher)
    with pytest.raises(SignatureMismatch):
        open_notification(headers, b"not json", keys, cipher, now=NOW)
    # The same body correctly signed gets as far as the envelope.
    signed = sign_response(platform_key, serial=SERIAL, timestamp=NOW, nonce="n", body=b"not json")
    with pytest.raises(MalformedInput):
        open_notification(signed, b"not json", keys, cipher, now=NOW)


def test_probe_stale_and_unknown_serial(
    platform_key: RSAPrivateKey, cipher: Apiv3Cipher, keys: KeySet
) -> None:
    probe_headers, probe_body = _seal(platform_key, cipher, sign_test_probe=True)
    assert probe_headers["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    with pytest.raises(SignTestProbe):
        open_notification(probe_headers, probe_body, keys, cipher, now=NOW)
    headers, body = _seal(platform_key, cipher)
    with pytest.raises(StaleTimestamp):
        open_notification(headers, body, keys, cipher, now=NOW + 300)
    assert open_notification(headers, body, keys, cipher, now=NOW - 299, tolerance=300)
    other, other_body = _seal(platform_key, cipher, serial="PUB_KEY_ID_1")
    with pytest.raises(UnknownSerial):
        open_notification(other, other_body, keys, cipher, now=NOW)


def test_wrong_apiv3_key_fails_to_decrypt(platform_key: RSAPrivateKey, keys: KeySet) -> None:
    headers, body = _seal(platform_key, Apiv3Cipher("b" * 32))
    with pytest.raises(DecryptError):
        open_notification(headers, body, keys, Apiv3Cipher(KEY), now=NOW)


@settings(max_examples=50)
@given(
    event_id=st.text(min_size=1, max_size=40),
    plaintext=st.binary(max_size=1024),
    associated_data=st.text(max_size=16),
    nonce=st.text(st.characters(min_codepoint=0x30, max_codepoint=0x7A), min_size=12, max_size=12),
    data=st.data(),
)
def test_round_trip_and_every_body_byte_matters(
    platform_key: RSAPrivateKey,
    cipher: Apiv3Cipher,
    keys: KeySet,
    event_id: str,
    plaintext: bytes,
    associated_data: str,
    nonce: str,
    data: st.DataObject,
) -> None:
    headers, body = _seal(
        platform_key,
        cipher,
        plaintext,
        event_id=event_id,
        associated_data=associated_data,
        resource_nonce=nonce,
    )
    opened = open_notification(headers, body, keys, cipher, now=NOW)
    assert (opened.plaintext, opened.envelope.id) == (plaintext, event_id)
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    tampered = bytearray(body)
    tampered[index] ^= data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises(SignatureMismatch):
        open_notification(headers, bytes(tampered), keys, cipher, now=NOW)
    header = data.draw(st.sampled_from(["Wechatpay-Nonce", "Wechatpay-Timestamp"]))
    changed = headers | {header: str(NOW + 1) if header == "Wechatpay-Timestamp" else "x"}
    with pytest.raises(SignatureMismatch):
        open_notification(changed, body, keys, cipher, now=NOW)
