"""/v3/certificates: the Go and Java SDK responses decrypt to their certificates, and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paydesk.protocol.errors import DecryptError, MalformedInput
from paydesk.protocol.keys import certificate_serial
from paydesk.protocol.times import BEIJING
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.certificates import (
    CERTIFICATE_AAD,
    decrypt_certificates,
    encode_certificates_response,
)


@pytest.fixture(scope="module")
def responses(vector: Any) -> dict[str, dict[str, Any]]:
    cases = vector("v3_aead_aes_256_gcm.json")["certificates_download"]
    return {case["id"]: case for case in cases}


@pytest.mark.parametrize(
    "case_id", ["go_mock_v3_certificates_response", "java_testconfig_v3_certificates_response"]
)
def test_sdk_responses_decrypt_to_their_certificates(
    responses: dict[str, dict[str, Any]], case_id: str
) -> None:
    case = responses[case_id]
    # The Go mock's APIv3 key is 16 bytes (see the vector's notes).
    certs = decrypt_certificates(
        case["response_body"].encode(), case["apiv3_key"], allow_aes128=True
    )
    assert len(certs) == 1
    (cert,) = certs
    assert cert.pem == case["expected_decrypted_certificate_pem"]
    assert cert.serial_no == case["expected_certificate_serial"]
    assert certificate_serial(cert.certificate) == case["expected_certificate_serial"]
    entry = json.loads(case["response_body"])["data"][0]
    assert cert.effective_time.isoformat() == entry["effective_time"]
    assert cert.expire_time.isoformat() == entry["expire_time"]


def test_encoding_reproduces_the_sdk_ciphertexts(responses: dict[str, dict[str, Any]]) -> None:
    for case in responses.values():
        entry = json.loads(case["response_body"])["data"][0]
        body = encode_certificates_response(
            [
                (
                    case["expected_decrypted_certificate_pem"],
                    datetime.fromisoformat(entry["effective_time"]),
                    datetime.fromisoformat(entry["expire_time"]),
                )
            ],
            Apiv3Cipher(case["apiv3_key"], allow_aes128=True),
            nonces=[entry["encrypt_certificate"]["nonce"]],
        )
        ours = json.loads(body)["data"][0]
        assert ours == entry  # same fields, values and ciphertext; key order is ours


def test_round_trip_of_many(responses: dict[str, dict[str, Any]]) -> None:
    key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    pems = [case["expected_decrypted_certificate_pem"] for case in responses.values()]
    body = encode_certificates_response(
        [(pem, start, start + timedelta(days=1825)) for pem in pems],
        key,
        nonces=["nonce0000001", "nonce0000002"],
    )
    assert body.startswith(b'{"data":[{"serial_no":"D7CE59D1F522D701","effective_time":')
    certs = decrypt_certificates(body, key)
    assert [c.pem for c in certs] == pems
    assert certs[0].effective_time == start
    assert certs[0].expire_time.tzinfo is not None
    assert certs[0].effective_time.astimezone(BEIJING).hour == 8


def _body_with(pem: bytes, serial: str, key: str) -> bytes:
    ciphertext = Apiv3Cipher(key).encrypt(
        nonce="nonce0000001", associated_data=CERTIFICATE_AAD, plaintext=pem
    )
    entry = {
        "serial_no": serial,
        "effective_time": "2021-04-27T16:55:23+08:00",
        "expire_time": "2031-04-25T16:55:23+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "associated_data": CERTIFICATE_AAD,
            "nonce": "nonce0000001",
            "ciphertext": ciphertext,
        },
    }
    return json.dumps({"data": [entry]}).encode()


def test_a_serial_that_is_not_the_certificates_is_refused(
    responses: dict[str, dict[str, Any]],
) -> None:
    pem = responses["go_mock_v3_certificates_response"]["expected_decrypted_certificate_pem"]
    key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
    assert decrypt_certificates(_body_with(pem.encode(), "00D7CE59D1F522D701", key), key)
    with pytest.raises(MalformedInput) as info:
        decrypt_certificates(_body_with(pem.encode(), "F5765756002FDD77", key), key)
    assert info.value.field == "serial_no"


def test_decrypted_garbage_is_refused() -> None:
    key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
    with pytest.raises(MalformedInput, match="not text"):
        decrypt_certificates(_body_with(b"\xff\xfe", "01", key), key)


def test_wrong_key_fails_to_decrypt(responses: dict[str, dict[str, Any]]) -> None:
    body = responses["java_testconfig_v3_certificates_response"]["response_body"].encode()
    with pytest.raises(DecryptError):
        decrypt_certificates(body, "b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"data":{}}',
        b'{"data":[{"serial_no":"01"}]}',
        b'{"data":[{"serial_no":"01","effective_time":"x","expire_time":"y",'
        b'"encrypt_certificate":{"algorithm":"SM4","nonce":"n","ciphertext":"c"}}]}',
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedInput):
        decrypt_certificates(body, "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")


def test_one_nonce_per_certificate() -> None:
    with pytest.raises(MalformedInput, match="one nonce"):
        encode_certificates_response([], "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", nonces=["x"])
