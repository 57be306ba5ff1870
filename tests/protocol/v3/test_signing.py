"""APIv3 request signatures: official vectors byte for byte, parsing, tampering, round trips."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, StaleTimestamp
from paydesk.protocol.keys import load_private_key, load_public_key
from paydesk.protocol.v3.signing import (
    DOC_FIELD_ORDER,
    SCHEME,
    Authorization,
    build_authorization,
    format_authorization,
    parse_authorization,
    rsa_sign,
    rsa_verify,
    signing_message,
    verify_authorization,
)


def _cases(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [case for case in doc["cases"] if case["kind"] == kind]


# --- official documentation vectors -------------------------------------------------------


def test_official_authorization_headers_byte_for_byte(
    official_doc: dict[str, Any], official_key: RSAPrivateKey
) -> None:
    cases = _cases(official_doc, "request_signature")
    assert len(cases) == 2
    for case in cases:
        body = case["body"].encode("utf-8")
        timestamp = int(case["timestamp"])
        message = signing_message(case["method"], case["url"], timestamp, case["nonce_str"], body)
        assert message == case["message"].encode("utf-8")
        assert rsa_sign(official_key, message) == case["signature"]
        header = build_authorization(
            mchid=official_doc["key"]["mchid"],
            serial_no=official_doc["key"]["merchant_serial_no"],
            private_key=official_key,
            method=case["method"],
            url=case["url"],
            body=body,
            timestamp=timestamp,
            nonce=case["nonce_str"],
            field_order=DOC_FIELD_ORDER,
        )
        assert header == case["authorization_header"]


def test_official_headers_parse_and_verify(
    official_doc: dict[str, Any], official_key: RSAPrivateKey
) -> None:
    public = load_public_key(official_doc["key"]["public_key_pem_spki"])
    for case in _cases(official_doc, "request_signature"):
        auth = verify_authorization(
            case["authorization_header"],
            method=case["method"],
            url=case["url"],
            body=case["body"].encode("utf-8"),
            public_key=public,
            now=int(case["timestamp"]),
        )
        assert auth == Authorization(
            mchid="1900007291",
            nonce_str=case["nonce_str"],
            timestamp=1554208460,
            serial_no=official_doc["key"]["merchant_serial_no"],
            signature=case["signature"],
        )


def test_default_field_order_is_the_go_sdk_layout(
    official_doc: dict[str, Any], official_key: RSAPrivateKey
) -> None:
    case = _cases(official_doc, "request_signature")[1]
    header = build_authorization(
        mchid="1900007291",
        serial_no="408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
        private_key=official_key,
        method="GET",
        url=case["url"],
        body=b"",
        timestamp=1554208460,
        nonce=case["nonce_str"],
    )
    assert header == (
        f'{SCHEME} mchid="1900007291",nonce_str="{case["nonce_str"]}",timestamp="1554208460",'
        f'serial_no="408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",signature="{case["signature"]}"'
    )


# --- wechatpay-go vectors -----------------------------------------------------------------


def test_go_sdk_signature_of_source(vector: Any) -> None:
    go = vector("v3_wechatpay_go_sdk_keys_and_signature.json")
    key = load_private_key(go["keys"]["rsa_private_key_pkcs8_pem"])
    case = next(c for c in go["cases"] if c["id"] == "sign_source")
    assert rsa_sign(key, case["message"].encode()) == case["signature"]
    assert rsa_verify(key.public_key(), b"source", case["signature"])


def test_go_sdk_header_layout_with_the_mock_signer(vector: Any) -> None:
    go = vector("v3_wechatpay_go_sdk_keys_and_signature.json")
    cases = [c for c in go["cases"] if c["kind"] == "authorization_header_format"]
    assert len(cases) == 2
    for case in cases:
        message = signing_message(
            case["method"], case["url"], case["timestamp"], case["nonce"], case["body"].encode()
        )
        header = format_authorization(
            mchid=case["mchid"],
            nonce_str=case["nonce"],
            timestamp=case["timestamp"],
            serial_no=case["serial_no"],
            signature="Sign:" + message.decode(),
            scheme="WECHATPAY2-Mock",
        )
        assert header == case["expected_header"]


# --- parsing ------------------------------------------------------------------------------

GOOD = 'mchid="1",nonce_str="N",timestamp="1554208460",serial_no="S",signature="c2ln"'


def test_parse_accepts_any_order_spaces_and_unknown_fields() -> None:
    header = (
        f'{SCHEME}  signature="c2ln", serial_no="S" ,timestamp="1554208460",'
        'nonce_str="N",mchid="1",extra="x",'
    )
    assert parse_authorization(header) == Authorization("1", "N", 1554208460, "S", "c2ln")


def _changed(old: str, new: str) -> str:
    return f"{SCHEME} " + GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("WECHATPAY2-SHA256-RSA1024 " + GOOD, "scheme"),
        ("wechatpay2-sha256-rsa2048 " + GOOD, "scheme"),
        (GOOD, "scheme"),
        (_changed("mchid=", "mch_id="), "mchid"),
        (_changed('nonce_str="N"', 'nonce_str=""'), "nonce_str"),
        (f'{SCHEME} {GOOD},mchid="2"', "mchid"),
        (_changed("1554208460", "1554208460.5"), "timestamp"),
        (_changed("1554208460", "+1554208460"), "timestamp"),
        (_changed("1554208460", "01554208460"), "timestamp"),
        (_changed("1554208460", "١٥٥٤٢٠٨٤٦٠"), "timestamp"),
        (f"{SCHEME} {GOOD},garbage", None),
        (f"{SCHEME} mchid=1", None),
    ],
)
def test_parse_names_what_is_wrong(header: str, field: str | None) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_authorization(header)
    assert info.value.field == field


def test_format_refuses_a_bad_field_order() -> None:
    with pytest.raises(MalformedInput, match="field_order"):
        format_authorization(
            mchid="1",
            nonce_str="n",
            timestamp=1,
            serial_no="s",
            signature="x",
            field_order=("mchid", "mchid", "timestamp", "serial_no", "signature"),
        )


# --- verification -------------------------------------------------------------------------

URL = "/v3/pay/transactions/out-trade-no/T0001?mchid=1900007291"


def _sign(key: RSAPrivateKey, ts: int, body: bytes = b"", url: str = URL) -> str:
    return build_authorization(
        mchid="1900007291",
        serial_no="408B",
        private_key=key,
        method="GET",
        url=url,
        body=body,
        timestamp=ts,
        nonce="N1",
    )


@pytest.mark.parametrize("skew", [-299, 0, 299])
def test_timestamps_inside_the_window_are_accepted(official_key: RSAPrivateKey, skew: int) -> None:
    header = _sign(official_key, 1_700_000_000)
    auth = verify_authorization(
        header,
        method="GET",
        url=URL,
        body=b"",
        public_key=official_key.public_key(),
        now=1_700_000_000 + skew,
    )
    assert auth.timestamp == 1_700_000_000


@pytest.mark.parametrize("skew", [-300, 300, 10_000])
def test_timestamps_outside_the_window_are_stale(official_key: RSAPrivateKey, skew: int) -> None:
    header = _sign(official_key, 1_700_000_000)
    with pytest.raises(StaleTimestamp) as info:
        verify_authorization(
            header,
            method="GET",
            url=URL,
            body=b"",
            public_key=official_key.public_key(),
            now=1_700_000_000 + skew,
        )
    assert info.value.header == header
    assert info.value.serial == "408B"
    assert info.value.message == signing_message("GET", URL, 1_700_000_000, "N1", b"")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", URL, b""),
        ("GET", URL.replace("T0001", "T0002"), b""),
        ("GET", URL + "&x=1", b""),
        ("GET", URL, b"\n"),
    ],
)
def test_any_other_request_does_not_match(
    official_key: RSAPrivateKey, method: str, url: str, body: bytes
) -> None:
    header = _sign(official_key, 1_700_000_000)
    with pytest.raises(SignatureMismatch) as info:
        verify_authorization(
            header,
            method=method,
            url=url,
            body=body,
            public_key=official_key.public_key(),
            now=1_700_000_000,
        )
    assert info.value.message == signing_message(method, url, 1_700_000_000, "N1", body)


def test_another_key_does_not_match(official_key: RSAPrivateKey, other_key: RSAPrivateKey) -> None:
    header = _sign(official_key, 1_700_000_000)
    with pytest.raises(SignatureMismatch):
        verify_authorization(
            header,
            method="GET",
            url=URL,
            body=b"",
            public_key=other_key.public_key(),
            now=1_700_000_000,
        )


def test_rsa_verify_refuses_bad_encodings_and_other_digests(official_key: RSAPrivateKey) -> None:
    public = official_key.public_key()
    signature = rsa_sign(official_key, b"m")
    assert rsa_verify(public, b"m", signature)
    assert not rsa_verify(public, b"m", signature[:-4])
    assert not rsa_verify(public, b"m", "!" + signature[1:])
    assert not rsa_verify(public, b"m", signature + "\n")
    assert not rsa_verify(public, b"m", "签名")
    assert not rsa_verify(public, b"m", "")
    # Same message and key, but a SHA-1 DigestInfo inside: a different signature scheme.
    sha1 = official_key.sign(b"m", padding.PKCS1v15(), hashes.SHA1())
    assert not rsa_verify(public, b"m", base64.b64encode(sha1).decode())


@settings(max_examples=50)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    url=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80),
    body=st.binary(max_size=512),
    timestamp=st.integers(min_value=0, max_value=2**40),
    nonce=st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=32),
)
def test_build_parse_verify_round_trip(
    official_key: RSAPrivateKey, method: str, url: str, body: bytes, timestamp: int, nonce: str
) -> None:
    header = build_authorization(
        mchid="1900007291",
        serial_no="408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
        private_key=official_key,
        method=method,
        url=url,
        body=body,
        timestamp=timestamp,
        nonce=nonce,
    )
    auth = verify_authorization(
        header,
        method=method,
        url=url,
        body=body,
        public_key=official_key.public_key(),
        now=timestamp,
    )
    assert (auth.nonce_str, auth.timestamp) == (nonce, timestamp)
    assert parse_authorization(header) == auth
