"""Signed responses and notifications: KeySet, header reading, every check and its order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from paydesk.protocol.errors import (
    KeyFormatError,
    MalformedInput,
    SignatureError,
    SignatureMismatch,
    SignTestProbe,
    StaleTimestamp,
    UnknownSerial,
    UnsupportedSignatureType,
)
from paydesk.protocol.keys import load_certificate, load_private_key, make_self_signed_certificate
from paydesk.protocol.v3.verify import (
    SIGN_TEST_PREFIX,
    KeySet,
    SignedHeaders,
    response_message,
    sign_response,
    verify_signed,
)

PUB_KEY_ID = "PUB_KEY_ID_0000000000000024101100397200000006"
NOW = 1_700_000_000
BODY = '{"prepay_id":"wx201410272009395522657a690389285100","note":"支付"}'.encode()


@pytest.fixture(scope="module")
def go(vector: Any) -> dict[str, Any]:
    keys: dict[str, Any] = vector("v3_wechatpay_go_sdk_keys_and_signature.json")["keys"]
    return keys


@pytest.fixture(scope="module")
def go_key(go: dict[str, Any]) -> RSAPrivateKey:
    return load_private_key(go["rsa_private_key_pkcs8_pem"])


@pytest.fixture(scope="module")
def go_keys(go: dict[str, Any]) -> KeySet:
    return KeySet.from_certificates(
        load_certificate(go[f"platform_certificate_serial_{serial}_pem"])
        for serial in ("F5765756002FDD77", "D7CE59D1F522D701")
    )


@pytest.fixture(scope="module")
def pub_keys(platform_key: RSAPrivateKey) -> KeySet:
    return KeySet.from_public_key(PUB_KEY_ID, platform_key.public_key())


def _signed(key: RSAPrivateKey, serial: str, ts: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return sign_response(key, serial=serial, timestamp=ts, nonce="mockNonce1234", body=body)


# --- KeySet -------------------------------------------------------------------------------


def test_keyset_from_sdk_certificates(go_keys: KeySet, go_key: RSAPrivateKey) -> None:
    assert go_keys.serials == ("D7CE59D1F522D701", "F5765756002FDD77")
    for serial in go_keys.serials:
        assert go_keys.key_for(serial).public_numbers() == go_key.public_key().public_numbers()


def test_keyset_lookup_tolerates_hex_spelling(platform_key: RSAPrivateKey) -> None:
    cert = make_self_signed_certificate(
        platform_key,
        serial_number=0x0ABC,
        common_name="t",
        not_before=datetime(2025, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 1, 1, tzinfo=UTC),
    )
    keys = KeySet.from_certificates([cert])
    assert keys.serials == ("0ABC",)
    for spelling in ("0ABC", "ABC", "abc", "000abc"):
        assert keys.key_for(spelling) is keys.key_for("0ABC")
    with pytest.raises(UnknownSerial) as info:
        keys.key_for("ABD")
    assert info.value.serial == "ABD"


def test_keyset_public_key_mode_and_migration(
    go_keys: KeySet, pub_keys: KeySet, platform_key: RSAPrivateKey
) -> None:
    assert pub_keys.serials == (PUB_KEY_ID,)
    both = KeySet.merge(go_keys, pub_keys)
    assert both.serials == ("D7CE59D1F522D701", "F5765756002FDD77", PUB_KEY_ID)
    expected = platform_key.public_key().public_numbers()
    assert both.key_for(PUB_KEY_ID).public_numbers() == expected
    assert KeySet.merge(both, go_keys).serials == both.serials
    with pytest.raises(UnknownSerial):
        pub_keys.key_for("PUB_KEY_ID_1")


def test_keyset_refuses_a_bad_public_key_id(platform_key: RSAPrivateKey) -> None:
    with pytest.raises(KeyFormatError, match="PUB_KEY_ID_"):
        KeySet.from_public_key("D7CE59D1F522D701", platform_key.public_key())


def test_keyset_refuses_one_serial_for_two_keys(
    platform_key: RSAPrivateKey, other_key: RSAPrivateKey
) -> None:
    first = KeySet.from_public_key(PUB_KEY_ID, platform_key.public_key())
    second = KeySet.from_public_key(PUB_KEY_ID, other_key.public_key())
    with pytest.raises(KeyFormatError, match="two different keys"):
        KeySet.merge(first, second)


def test_keyset_is_immutable(pub_keys: KeySet, other_key: RSAPrivateKey) -> None:
    with pytest.raises(TypeError):
        pub_keys.keys["X"] = other_key.public_key()  # type: ignore[index]


# --- SignedHeaders ------------------------------------------------------------------------

CANONICAL = {
    "Wechatpay-Timestamp": "1554208460",
    "Wechatpay-Nonce": "n",
    "Wechatpay-Signature": "c2ln",
    "Wechatpay-Serial": "S",
    "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
}
EXPECTED = SignedHeaders(1554208460, "n", "c2ln", "S", "WECHATPAY2-SHA256-RSA2048")


@pytest.mark.parametrize(
    "headers",
    [
        CANONICAL,
        {k.lower(): v for k, v in CANONICAL.items()},
        {k.upper(): v for k, v in CANONICAL.items()},
        {k.swapcase(): v for k, v in CANONICAL.items()} | {"Request-ID": "x"},
        httpx.Headers(CANONICAL),
        Headers(CANONICAL),
    ],
)
def test_headers_are_read_case_insensitively(headers: Any) -> None:
    assert SignedHeaders.from_headers(headers) == EXPECTED


def test_signature_type_is_optional() -> None:
    headers = {k: v for k, v in CANONICAL.items() if k != "Wechatpay-Signature-Type"}
    assert SignedHeaders.from_headers(headers).signature_type is None


@pytest.mark.parametrize(
    "missing", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_missing_or_empty_headers_are_named(missing: str) -> None:
    for headers in (
        {k: v for k, v in CANONICAL.items() if k != missing},
        CANONICAL | {missing: ""},
    ):
        with pytest.raises(MalformedInput) as info:
            SignedHeaders.from_headers(headers)
        assert info.value.field == missing


def test_repeated_headers_are_refused() -> None:
    with pytest.raises(MalformedInput, match="twice"):
        SignedHeaders.from_headers(CANONICAL | {"wechatpay-serial": "T"})


@pytest.mark.parametrize("value", ["abc", "0123", "-1", "1.5", "١٢٣", "1" * 19, " 1"])
def test_bad_timestamps_are_refused(value: str) -> None:
    with pytest.raises(MalformedInput) as info:
        SignedHeaders.from_headers(CANONICAL | {"Wechatpay-Timestamp": value})
    assert info.value.field == "Wechatpay-Timestamp"


def test_zero_timestamp_is_a_number() -> None:
    assert SignedHeaders.from_headers(CANONICAL | {"Wechatpay-Timestamp": "0"}).timestamp == 0


# --- verify_signed ------------------------------------------------------------------------


def test_sign_response_headers(platform_key: RSAPrivateKey) -> None:
    headers = _signed(platform_key, PUB_KEY_ID)
    assert set(headers) == {
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Signature-Type",
    }
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert len(headers["Wechatpay-Signature"]) == 344


def test_sdk_certificates_verify_a_response(go_key: RSAPrivateKey, go_keys: KeySet) -> None:
    signed = verify_signed(_signed(go_key, "D7CE59D1F522D701"), BODY, go_keys, now=NOW)
    assert signed.serial == "D7CE59D1F522D701"
    parsed = SignedHeaders.from_headers(_signed(go_key, "F5765756002FDD77"))
    assert verify_signed(parsed, BODY, go_keys, now=NOW) is parsed


@pytest.mark.parametrize("skew", [-299, 0, 299])
def test_window_accepts(platform_key: RSAPrivateKey, pub_keys: KeySet, skew: int) -> None:
    verify_signed(_signed(platform_key, PUB_KEY_ID), BODY, pub_keys, now=NOW + skew)


@pytest.mark.parametrize("skew", [-300, 300])
def test_window_rejects(platform_key: RSAPrivateKey, pub_keys: KeySet, skew: int) -> None:
    with pytest.raises(StaleTimestamp) as info:
        verify_signed(_signed(platform_key, PUB_KEY_ID), BODY, pub_keys, now=NOW + skew)
    assert info.value.message == response_message(NOW, "mockNonce1234", BODY)
    evidence = info.value.evidence()  # what a log line or an anomaly record shows
    assert evidence["serial"] == PUB_KEY_ID
    assert evidence["message"] == f"{NOW}\nmockNonce1234\n{BODY.decode()}\n"


def test_checks_run_in_the_documented_order(platform_key: RSAPrivateKey, pub_keys: KeySet) -> None:
    good = _signed(platform_key, PUB_KEY_ID)
    probe = good | {"Wechatpay-Signature": SIGN_TEST_PREFIX + good["Wechatpay-Signature"]}
    # probe first, even with a wrong type, a stale time and an unknown serial
    worst = probe | {"Wechatpay-Signature-Type": "SM2", "Wechatpay-Serial": "X"}
    with pytest.raises(SignTestProbe):
        verify_signed(worst, BODY, pub_keys, now=NOW + 10_000)
    with pytest.raises(SignTestProbe):
        verify_signed(probe, BODY, pub_keys, now=NOW)
    wrong_type = good | {"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}
    with pytest.raises(UnsupportedSignatureType):
        verify_signed(wrong_type | {"Wechatpay-Serial": "X"}, BODY, pub_keys, now=NOW + 10_000)
    with pytest.raises(StaleTimestamp):
        verify_signed(good | {"Wechatpay-Serial": "X"}, BODY, pub_keys, now=NOW + 10_000)
    with pytest.raises(UnknownSerial):
        verify_signed(good | {"Wechatpay-Serial": "X"}, BODY, pub_keys, now=NOW)
    with pytest.raises(SignatureMismatch):
        verify_signed(good, BODY + b" ", pub_keys, now=NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"Wechatpay-Signature-Type": "HMAC-SHA256"},
        {"Wechatpay-Serial": "PUB_KEY_ID_1"},
        {"Wechatpay-Nonce": "mockNonce1235"},
        {"Wechatpay-Timestamp": str(NOW + 1)},
        {"Wechatpay-Signature": "c2ln"},
        {"Wechatpay-Signature": SIGN_TEST_PREFIX},
    ],
)
def test_any_changed_header_fails_with_evidence(
    platform_key: RSAPrivateKey, pub_keys: KeySet, change: dict[str, str]
) -> None:
    headers = _signed(platform_key, PUB_KEY_ID) | change
    with pytest.raises(SignatureError) as info:
        verify_signed(headers, BODY, pub_keys, now=NOW)
    signed = SignedHeaders.from_headers(headers)
    assert info.value.message == response_message(signed.timestamp, signed.nonce, BODY)
    assert info.value.serial == signed.serial
    assert info.value.header == signed.signature


def test_a_key_set_without_the_signer_fails(other_key: RSAPrivateKey, pub_keys: KeySet) -> None:
    with pytest.raises(SignatureMismatch):
        verify_signed(_signed(other_key, PUB_KEY_ID), BODY, pub_keys, now=NOW)


@settings(max_examples=50)
@given(body=st.binary(max_size=2048), nonce=st.text(min_size=1, max_size=32), data=st.data())
def test_sign_verify_round_trip_and_every_body_byte_matters(
    platform_key: RSAPrivateKey, pub_keys: KeySet, body: bytes, nonce: str, data: st.DataObject
) -> None:
    headers = sign_response(platform_key, serial=PUB_KEY_ID, timestamp=NOW, nonce=nonce, body=body)
    assert verify_signed(headers, body, pub_keys, now=NOW).nonce == nonce
    if body:
        index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        flip = data.draw(st.integers(min_value=1, max_value=255))
        tampered = bytearray(body)
        tampered[index] ^= flip
        with pytest.raises(SignatureMismatch):
            verify_signed(headers, bytes(tampered), pub_keys, now=NOW)
    with pytest.raises(SignatureMismatch):
        verify_signed(headers, body + b"\n", pub_keys, now=NOW)
