"""Building pushes: WeChat's fields and order, and plain / compatible / safe sealing in XML and
JSON, each opened again with the protocol layer's own receive-side functions."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from paydesk.protocol.errors import SignatureMismatch
from paydesk.protocol.messages import (
    PushFormat,
    parse_push,
)
from paydesk.protocol.xmlcodec import parse_xml
from paydesk.sandbox import SandboxCredentials
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.push_build import (
    PushMode,
    PushRefused,
    message_fields,
    original_id,
    seal_push,
)
from tests.sandbox.identity.merchant import open_push

DEFAULTS = {
    "PicUrl": "http://sandbox.test/pic",
    "MediaId": "MEDIA",
    "AppId": "wxDEFAULT",
    "ThumbUrl": "http://sandbox.test/thumb",
    "ThumbMediaId": "THUMB",
    "SessionFrom": "",
}


@pytest.fixture
def mini(sandbox_credentials: SandboxCredentials) -> AppCredentials:
    return next(a for a in sandbox_credentials.apps if a.type == "miniprogram")


@pytest.fixture
def oa(sandbox_credentials: SandboxCredentials) -> AppCredentials:
    return next(a for a in sandbox_credentials.apps if a.type == "official_account")


def fields_for(app: AppCredentials, message: dict[str, Any]) -> dict[str, Any]:
    return message_fields(
        app, "oUSER", message, create_time=1714037059, msg_id=24000000000000001, defaults=DEFAULTS
    )


def test_original_ids_look_like_gh_ids_and_are_stable() -> None:
    assert re.fullmatch(r"gh_[0-9a-f]{12}", original_id("wx5a0d5a0d00000001"))
    assert original_id("wx5a0d5a0d00000001") == original_id("wx5a0d5a0d00000001")
    assert original_id("wx5a0d5a0d00000001") != original_id("wx5a0d5a0d00000002")


def test_text_fields_come_in_wechats_order(mini: AppCredentials) -> None:
    fields = fields_for(mini, {"MsgType": "text", "Content": "你好"})
    assert fields == {
        "ToUserName": original_id(mini.appid),
        "FromUserName": "oUSER",
        "CreateTime": 1714037059,
        "MsgType": "text",
        "Content": "你好",
        "MsgId": 24000000000000001,
    }
    assert list(fields) == [
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Content",
        "MsgId",
    ]


def test_optional_fields_take_the_callers_value_or_the_default(mini: AppCredentials) -> None:
    image = fields_for(mini, {"MsgType": "image", "MediaId": "MINE"})
    assert (image["PicUrl"], image["MediaId"]) == ("http://sandbox.test/pic", "MINE")
    card = fields_for(
        mini, {"MsgType": "miniprogrampage", "Title": "Order 7", "PagePath": "pages/o?id=7"}
    )
    assert {k: card[k] for k in ("Title", "AppId", "PagePath", "ThumbUrl", "ThumbMediaId")} == {
        "Title": "Order 7",
        "AppId": "wxDEFAULT",
        "PagePath": "pages/o?id=7",
        "ThumbUrl": "http://sandbox.test/thumb",
        "ThumbMediaId": "THUMB",
    }


def test_events_carry_no_msgid(mini: AppCredentials) -> None:
    event = fields_for(
        mini, {"MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": "order-7"}
    )
    assert "MsgId" not in event
    assert (event["Event"], event["SessionFrom"]) == ("user_enter_tempsession", "order-7")


@pytest.mark.parametrize(
    ("kind", "message", "complaint"),
    [
        ("mini", {"MsgType": "voice"}, "MsgType must be one of"),
        ("mini", {}, "MsgType must be one of"),
        ("oa", {"MsgType": "miniprogrampage", "Title": "t", "PagePath": "p"}, "official_account"),
        ("oa", {"MsgType": "event", "Event": "user_enter_tempsession"}, "official_account"),
        ("mini", {"MsgType": "text", "Content": "x", "Contnet": "typo"}, "unknown fields"),
        ("mini", {"MsgType": "text"}, "needs Content"),
        ("mini", {"MsgType": "text", "Content": 5}, "needs Content"),
        ("mini", {"MsgType": "image", "MediaId": 5}, "MediaId must be a string"),
        ("mini", {"MsgType": "event", "Event": "subscribe"}, "Event must be one of"),
    ],
)
def test_pushes_wechat_would_not_send_are_refused(
    mini: AppCredentials, oa: AppCredentials, kind: str, message: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(PushRefused, match=complaint):
        fields_for(mini if kind == "mini" else oa, message)


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_sealed_pushes_open_with_the_protocol_layer(
    mini: AppCredentials, mode: PushMode, fmt: PushFormat
) -> None:
    fields = fields_for(mini, {"MsgType": "text", "Content": "请帮我付款 <&>"})
    sealed = seal_push(
        mini,
        fields,
        mode=mode,
        fmt=fmt,
        timestamp="1714037059",
        nonce="123456789",
        random16=b"0123456789abcdef",
    )
    assert list(sealed.query)[:4] == ["signature", "timestamp", "nonce", "openid"]
    assert sealed.query["openid"] == "oUSER"
    message = parse_push(open_push(mini, sealed.query, sealed.body, mode, fmt), fmt)
    assert (message.content, message.msg_id, message.from_user) == (
        "请帮我付款 <&>",
        "24000000000000001",
        "oUSER",
    )
    outer = parse_xml(sealed.body) if fmt == "xml" else json.loads(sealed.body)
    if mode == "safe":
        assert set(outer) == {"ToUserName", "Encrypt"}
    elif mode == "compatible":
        assert set(outer) == {*fields, "Encrypt"}
    else:
        assert set(outer) == set(fields)


def test_a_tampered_encrypt_fails_the_msg_signature(mini: AppCredentials) -> None:
    sealed = seal_push(
        mini,
        fields_for(mini, {"MsgType": "text", "Content": "x"}),
        mode="safe",
        fmt="json",
        timestamp="1",
        nonce="2",
        random16=bytes(16),
    )
    body = json.loads(sealed.body)
    body["Encrypt"] = body["Encrypt"][::-1]
    with pytest.raises(SignatureMismatch):
        open_push(mini, sealed.query, json.dumps(body).encode(), "safe", "json")
