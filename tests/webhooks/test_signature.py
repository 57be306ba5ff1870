"""paydesk.webhooks: known answers from OpenSSL, round trips, and every way to tamper."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.webhooks import (
    WebhookPayloadError,
    WebhookSignatureError,
    WebhookVerificationError,
    compute_signature,
    sign,
    verify,
)

VECTORS = json.loads((Path(__file__).with_name("vectors") / "signatures.json").read_text("utf-8"))
T = 1714536000
BODY = b'{"id":"evt_1","type":"order.paid","created":1714536000,"data":{"amount":100}}'


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_sign_matches_openssl(vector: dict[str, Any]) -> None:
    body = vector["body"].encode("utf-8")
    assert sign(body, vector["secrets"], vector["timestamp"]) == vector["header"]
    for secret in vector["secrets"]:
        event = verify(body, vector["header"], secret, now=vector["timestamp"])
        assert event == json.loads(vector["body"])


def test_verify_accepts_str_and_bytearray_payloads() -> None:
    header = sign(BODY, ["whsec_a"], T)
    assert verify(BODY.decode(), header, "whsec_a", now=T)["id"] == "evt_1"
    assert verify(bytes(bytearray(BODY)), header, "whsec_a", now=T)["id"] == "evt_1"


def test_verify_defaults_to_the_system_clock() -> None:
    now = int(time.time())
    assert verify(BODY, sign(BODY, ["whsec_a"], now), "whsec_a")["type"] == "order.paid"
    with pytest.raises(WebhookSignatureError, match="away from now"):
        verify(BODY, sign(BODY, ["whsec_a"], now - 3600), "whsec_a")


@given(
    body=st.binary(max_size=256),
    secret=st.text(min_size=1, max_size=40),
    timestamp=st.integers(min_value=0, max_value=2**40),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_changed_byte_is_refused(
    body: bytes, secret: str, timestamp: int, position: int, flip: int
) -> None:
    payload = json.dumps({"blob": body.hex()}).encode()
    header = sign(payload, [secret], timestamp)
    assert verify(payload, header, secret, now=timestamp) == {"blob": body.hex()}
    index = position % len(payload)
    tampered = bytearray(payload)
    tampered[index] ^= flip
    with pytest.raises(WebhookSignatureError, match="no v1 signature matches") as caught:
        verify(bytes(tampered), header, secret, now=timestamp)
    assert caught.value.payload == bytes(tampered)
    assert caught.value.header == header


@pytest.mark.parametrize(
    ("skew", "accepted"),
    [
        (0, True),
        (300, True),  # exactly at the tolerance: still inside
        (-300, True),
        (301, False),  # the receiver's clock is 301 s ahead: too old
        (-301, False),  # the timestamp is 301 s in the future: refused too
        (86400, False),
    ],
)
def test_timestamp_window_is_symmetric(skew: int, accepted: bool) -> None:
    header = sign(BODY, ["whsec_a"], T)
    if accepted:
        assert verify(BODY, header, "whsec_a", now=T + skew)["id"] == "evt_1"
    else:
        with pytest.raises(WebhookSignatureError, match="more than 300 s away"):
            verify(BODY, header, "whsec_a", now=T + skew)


def test_custom_tolerance() -> None:
    header = sign(BODY, ["whsec_a"], T)
    assert verify(BODY, header, "whsec_a", tolerance=600, now=T + 600)["id"] == "evt_1"
    with pytest.raises(WebhookSignatureError):
        verify(BODY, header, "whsec_a", tolerance=10, now=T + 11)


def test_a_changed_timestamp_breaks_the_signature() -> None:
    header = sign(BODY, ["whsec_a"], T)
    moved = header.replace(f"t={T}", f"t={T + 1}")
    with pytest.raises(WebhookSignatureError, match="no v1 signature matches"):
        verify(BODY, moved, "whsec_a", now=T)


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookSignatureError, match="no v1 signature matches"):
        verify(BODY, sign(BODY, ["whsec_a"], T), "whsec_b", now=T)


def test_rotation_signs_with_both_secrets() -> None:
    header = sign(BODY, ["whsec_new", "whsec_old"], T)
    assert header == (
        f"t={T},v1={compute_signature(BODY, 'whsec_new', T)},"
        f"v1={compute_signature(BODY, 'whsec_old', T)}"
    )
    # A receiver still on the old secret and one already on the new both accept it.
    assert verify(BODY, header, "whsec_old", now=T)["id"] == "evt_1"
    assert verify(BODY, header, "whsec_new", now=T)["id"] == "evt_1"
    with pytest.raises(WebhookSignatureError):
        verify(BODY, header, "whsec_other", now=T)


def test_unknown_schemes_are_ignored_but_not_trusted() -> None:
    good = compute_signature(BODY, "whsec_a", T)
    assert verify(BODY, f"t={T},v0=deadbeef,v1={good}", "whsec_a", now=T)["id"] == "evt_1"
    with pytest.raises(WebhookSignatureError, match="no v1= signature"):
        verify(BODY, f"t={T},v0={good}", "whsec_a", now=T)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        ("v1=abc", "exactly one t="),
        ("t=,v1=abc", "exactly one t="),
        ("t=-5,v1=abc", "exactly one t="),
        ("t=12a,v1=abc", "exactly one t="),
        ("t=١٢٣,v1=abc", "exactly one t="),  # non-ASCII digits are not a timestamp
        (f"t={T},t={T},v1=abc", "exactly one t="),
        (f"t={T}", "no v1= signature"),
        (f"t={T},v1=abc,", "malformed"),
    ],
)
def test_malformed_headers_are_refused(header: str, reason: str) -> None:
    with pytest.raises(WebhookSignatureError, match=reason) as caught:
        verify(BODY, header, "whsec_a", now=T)
    assert caught.value.header == header
    assert isinstance(caught.value, WebhookVerificationError)
    assert isinstance(caught.value, ValueError)


def test_whitespace_around_elements_is_tolerated() -> None:
    good = compute_signature(BODY, "whsec_a", T)
    assert verify(BODY, f"t={T}, v1={good}", "whsec_a", now=T)["id"] == "evt_1"


@pytest.mark.parametrize(
    ("body", "reason"), [(b"not json", "not valid JSON"), (b"[1, 2]", "not a JSON object")]
)
def test_json_is_parsed_only_after_the_signature_holds(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookSignatureError):  # unsigned garbage: a signature error first
        verify(body, sign(b"{}", ["whsec_a"], T), "whsec_a", now=T)
    with pytest.raises(WebhookPayloadError, match=reason):
        verify(body, sign(body, ["whsec_a"], T), "whsec_a", now=T)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        sign(BODY, [], T)


def _top_level_modules(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join({{m.split('.')[0] for m in sys.modules}}))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_importing_needs_only_the_standard_library() -> None:
    added = _top_level_modules("import paydesk.webhooks") - _top_level_modules("pass")
    assert "paydesk" in added
    assert sorted(m for m in added - {"paydesk"} if m not in sys.stdlib_module_names) == []


def _docs_recipe() -> Any:
    """The standard-library-only verifier printed in docs/webhooks.md, loaded as written."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
    blocks = re.findall(r"```python\n(.*?)```", docs.read_text("utf-8"), re.S)
    [recipe] = [block for block in blocks if block.startswith("import hashlib")]
    namespace: dict[str, Any] = {}
    exec(compile(recipe, str(docs), "exec"), namespace)
    return namespace["verify"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_documented_recipe_agrees(vector: dict[str, Any]) -> None:
    recipe = _docs_recipe()
    body = vector["body"].encode("utf-8")
    header = sign(body, vector["secrets"], int(time.time()))
    for secret in vector["secrets"]:
        assert recipe(body, header, secret) == json.loads(vector["body"])
    for bad_body, bad_header, secret in [
        (body + b" ", header, vector["secrets"][0]),
        (body, header, "whsec_wrong"),
        (body, vector["header"], vector["secrets"][0]),  # signed in 2024: too old
        (body, "garbage", vector["secrets"][0]),
    ]:
        with pytest.raises(ValueError, match=r"malformed|tolerance|no signature"):
            recipe(bad_body, bad_header, secret)


def test_a_non_ascii_signature_is_refused_not_a_crash() -> None:
    header = sign(b"{}", ["whsec_a"], 1000).split(",v1=")[0] + ",v1=签名"
    with pytest.raises(WebhookSignatureError):
        verify(b"{}", header, "whsec_a", now=1000)
