"""paydesk.protocol.messages.signature: the SHA-1 push signatures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.utils import check_signature

from paydesk.protocol.errors import SignatureMismatch
from paydesk.protocol.messages.signature import check_push_signature, push_signature


def test_official_url_verification(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_url_verification_GET"]
    assert "".join(sorted([v["token"], v["timestamp"], v["nonce"]])) == v["sorted_concat"]
    assert push_signature(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    check_push_signature(
        token=v["token"], timestamp=v["timestamp"], nonce=v["nonce"], signature=v["signature"]
    )


def test_official_plain_post(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_plaintext_POST_json"]
    check_push_signature(
        token=v["token"], timestamp=v["timestamp"], nonce=v["nonce"], signature=v["signature"]
    )


def test_official_safe_mode_signature_and_msg_signature(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_safe_mode_POST_json"]
    check_push_signature(
        token=v["token"], timestamp=v["timestamp"], nonce=v["nonce"], signature=v["signature"]
    )
    check_push_signature(
        token=v["token"],
        timestamp=v["timestamp"],
        nonce=v["nonce"],
        signature=v["msg_signature"],
        encrypt=v["body"]["Encrypt"],
    )
    assert (
        push_signature(v["token"], v["timestamp"], v["nonce"], v["body"]["Encrypt"])
        == v["msg_signature"]
    )


def test_official_reply_msg_signature(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_safe_mode_POST_json"]
    reply = v["reply"]
    assert (
        push_signature(v["token"], str(reply["TimeStamp"]), reply["Nonce"], reply["Encrypt"])
        == reply["MsgSignature"]
    )


def test_wxbizmsgcrypt_sample(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_wxbizmsgcrypt_sample_xml"]
    assert (
        push_signature(v["token"], v["timestamp"], v["nonce"], v["Encrypt"]) == v["msg_signature"]
    )
    assert push_signature(v["token"], v["timestamp"], v["nonce"]) == v["url_signature_same_params"]


def test_wecom_msg_signatures_use_the_same_algorithm(case: dict[str, dict[str, Any]]) -> None:
    v = case["wechatpy_wecom_encrypt_decrypt"]
    d = v["decrypt"]
    assert (
        push_signature(v["token"], d["timestamp"], d["nonce"], d["Encrypt"]) == d["msg_signature"]
    )
    e = v["encrypt"]
    assert (
        push_signature(v["token"], e["timestamp"], e["nonce"], e["expected_Encrypt"])
        == e["expected_MsgSignature"]
    )


def test_wechatpy_check_signature_case(case: dict[str, dict[str, Any]]) -> None:
    v = case["wechatpy_check_signature"]
    check_push_signature(
        token=v["token"], timestamp=v["timestamp"], nonce=v["nonce"], signature=v["signature"]
    )


def test_a_mismatch_names_the_kind_and_keeps_the_token_out_of_the_evidence() -> None:
    with pytest.raises(SignatureMismatch, match="push signature does not match") as caught:
        check_push_signature(token="s3cret-token", timestamp="1", nonce="n", signature="0" * 40)
    assert caught.value.message == b"1\nn"
    assert caught.value.header == "0" * 40
    assert "s3cret-token" not in str(caught.value.evidence())
    with pytest.raises(SignatureMismatch, match="push msg_signature does not match") as caught:
        check_push_signature(
            token="s3cret-token", timestamp="1", nonce="n", signature="签名", encrypt="E"
        )
    assert caught.value.message == b"1\nn\nE"


TEXT = st.text(max_size=24)


@settings(max_examples=100)
@given(token=TEXT, timestamp=TEXT, nonce=TEXT)
def test_agrees_with_wechatpy(token: str, timestamp: str, nonce: str) -> None:
    signature = push_signature(token, timestamp, nonce)
    check_signature(token, signature, timestamp, nonce)  # raises if wechatpy disagrees
    check_push_signature(token=token, timestamp=timestamp, nonce=nonce, signature=signature)


@settings(max_examples=100)
@given(token=TEXT, timestamp=TEXT, nonce=TEXT, encrypt=TEXT, data=st.data())
def test_any_changed_part_fails(
    token: str, timestamp: str, nonce: str, encrypt: str, data: st.DataObject
) -> None:
    parts = {"token": token, "timestamp": timestamp, "nonce": nonce, "encrypt": encrypt}
    signature = push_signature(token, timestamp, nonce, encrypt)
    check_push_signature(signature=signature, **parts)
    name = data.draw(st.sampled_from(sorted(parts)))
    parts[name] += data.draw(st.text(min_size=1, max_size=4))
    with pytest.raises(SignatureMismatch):
        check_push_signature(signature=signature, **parts)
