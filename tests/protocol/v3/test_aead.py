"""AEAD_AES_256_GCM: the SDK vectors in both directions, every failure, round trips."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import DecryptError
from paydesk.protocol.v3.aead import Apiv3Cipher, aead_decrypt, aead_encrypt

KEY = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"


@pytest.fixture(scope="module")
def cases(vector: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = vector("v3_aead_aes_256_gcm.json")["cases"]
    return found


def test_vectors_decrypt_and_encrypt_byte_for_byte(cases: list[dict[str, Any]]) -> None:
    assert len(cases) == 3
    for case in cases:
        # Two of the Go SDK's cases use 16-byte keys (AES-128 under Go's aes.NewCipher).
        cipher = Apiv3Cipher(case["key"], allow_aes128=True)
        plaintext = case["plaintext"].encode("utf-8")
        got = cipher.decrypt(
            nonce=case["nonce"],
            associated_data=case["associated_data"],
            ciphertext=case["ciphertext"],
        )
        assert got == plaintext
        again = cipher.encrypt(
            nonce=case["nonce"], associated_data=case["associated_data"], plaintext=plaintext
        )
        assert again == case["ciphertext"]


def test_module_functions_match_the_java_vector(cases: list[dict[str, Any]]) -> None:
    case = next(c for c in cases if c["id"] == "java_message")
    args = {"nonce": case["nonce"], "associated_data": case["associated_data"]}
    assert aead_decrypt(case["key"].encode(), ciphertext=case["ciphertext"], **args) == b"message"
    assert aead_encrypt(case["key"], plaintext=b"message", **args) == case["ciphertext"]


def test_go_negative_cases(cases: list[dict[str, Any]]) -> None:
    case = next(c for c in cases if c["id"] == "go_hello_world")
    args = {"nonce": case["nonce"], "associated_data": case["associated_data"]}
    with pytest.raises(DecryptError):
        aead_decrypt("testAPIv3Key1111", ciphertext=case["ciphertext"], allow_aes128=True, **args)
    with pytest.raises(DecryptError):
        aead_decrypt(case["key"], ciphertext="SGVsbG8gV29ybGQK", allow_aes128=True, **args)


@pytest.mark.parametrize(
    "change",
    [
        {"associated_data": "bad-associatedData"},
        {"nonce": "bad-4a9R25RW"},
        {"nonce": ""},
        {"ciphertext": "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI"},
        {"ciphertext": "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=\n"},
        {"ciphertext": "ulwSiIajGClc!cOYvOQ7+l+0PAbzzwI="},
        {"ciphertext": "密文"},
        {"ciphertext": ""},
    ],
)
def test_java_negative_cases_and_bad_inputs(change: dict[str, str]) -> None:
    args = {
        "nonce": "uluk4a9R25RW",
        "associated_data": "associatedData",
        "ciphertext": "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=",
    } | change
    with pytest.raises(DecryptError):
        Apiv3Cipher(KEY).decrypt(**args)


@pytest.mark.parametrize("key", ["", "testAPIv3Key0000", KEY[:-1], KEY + "0", "密钥" * 8])
def test_key_length_is_32_bytes(key: str) -> None:
    with pytest.raises(DecryptError, match="32 bytes"):
        Apiv3Cipher(key)


def test_aes128_needs_the_opt_in_and_other_sizes_never_pass() -> None:
    assert repr(Apiv3Cipher("testAPIv3Key0000", allow_aes128=True)) == "Apiv3Cipher(<key hidden>)"
    with pytest.raises(DecryptError):
        Apiv3Cipher("0" * 24, allow_aes128=True)


def test_encrypt_refuses_an_empty_nonce() -> None:
    with pytest.raises(DecryptError, match="nonce"):
        Apiv3Cipher(KEY).encrypt(nonce="", associated_data="", plaintext=b"x")


@settings(max_examples=50)
@given(
    plaintext=st.binary(max_size=4096),
    associated_data=st.text(max_size=32),
    nonce=st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=12, max_size=12),
    data=st.data(),
)
def test_round_trip_and_every_ciphertext_byte_matters(
    plaintext: bytes, associated_data: str, nonce: str, data: st.DataObject
) -> None:
    cipher = Apiv3Cipher(KEY)
    sealed = cipher.encrypt(nonce=nonce, associated_data=associated_data, plaintext=plaintext)
    assert cipher.decrypt(nonce=nonce, associated_data=associated_data, ciphertext=sealed) == (
        plaintext
    )
    raw = bytearray(base64.b64decode(sealed))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[index] ^= data.draw(st.integers(min_value=1, max_value=255))
    tampered = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(DecryptError):
        cipher.decrypt(nonce=nonce, associated_data=associated_data, ciphertext=tampered)
    with pytest.raises(DecryptError):
        cipher.decrypt(nonce=nonce, associated_data=associated_data + "x", ciphertext=sealed)
