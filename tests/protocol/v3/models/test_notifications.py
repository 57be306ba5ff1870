"""The notification envelope of PROTOCOL.md §1.8."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.models import NotificationEnvelope, parse_json

# The documented envelope (PROTOCOL.md §1.8), ciphertext shortened.
ENVELOPE: dict[str, Any] = {
    "id": "EV-2018022511223320873",
    "create_time": "2015-05-20T13:29:35+08:00",
    "resource_type": "encrypt-resource",
    "event_type": "TRANSACTION.SUCCESS",
    "summary": "支付成功",
    "resource": {
        "original_type": "transaction",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": "c2VjcmV0",
        "associated_data": "transaction",
        "nonce": "fdasflkja484",
    },
}


def test_documented_envelope_parses() -> None:
    envelope = parse_json(NotificationEnvelope, json.dumps(ENVELOPE, ensure_ascii=False))
    assert envelope.event_type == "TRANSACTION.SUCCESS"
    assert envelope.resource.associated_data == "transaction"


def test_associated_data_may_be_absent() -> None:
    resource = {k: v for k, v in ENVELOPE["resource"].items() if k != "associated_data"}
    envelope = parse_json(NotificationEnvelope, json.dumps(ENVELOPE | {"resource": resource}))
    assert envelope.resource.associated_data == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resource_type": "plain"}, "resource_type"),
        ({"resource": ENVELOPE["resource"] | {"algorithm": "AEAD_SM4_GCM"}}, "resource.algorithm"),
        ({"id": None}, "id"),
    ],
)
def test_envelope_refuses(change: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_json(NotificationEnvelope, json.dumps(ENVELOPE | change))
    assert info.value.field == field
