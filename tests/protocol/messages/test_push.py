"""paydesk.protocol.messages.push: incoming pushes and customer-service send bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import HostileXML, InputTooLarge, MalformedInput
from paydesk.protocol.messages.crypto import MessageCrypto
from paydesk.protocol.messages.push import (
    PUSH_ACK,
    PushedMessage,
    custom_image,
    custom_link,
    custom_miniprogrampage,
    custom_text,
    encode_send_body,
    extract_encrypt,
    parse_push,
    render_push,
)
from paydesk.protocol.xmlcodec import XmlValue

# --------------------------------------------------------------------------- official bodies


def test_the_official_plain_json_push(case: dict[str, dict[str, Any]]) -> None:
    message = parse_push(case["official_plaintext_POST_json"]["body"].encode(), "json")
    assert (message.to_user, message.from_user) == (
        "gh_97417a04a28d",
        "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
    )
    assert (message.create_time, message.msg_type, message.event) == (
        1714037059,
        "event",
        "debug_demo",
    )
    assert message.raw["debug_str"] == "hello world"
    assert message.msg_id is None
    assert message.dedupe_key == "event:o9AgO5Kd5ggOC-bXrbNODIiE3bGY:1714037059"


def test_the_official_safe_mode_json_push_end_to_end(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_safe_mode_POST_json"]
    body = json.dumps(v["body"]).encode()
    encrypt = extract_encrypt(body, "json")
    crypto = MessageCrypto(v["token"], v["encoding_aes_key"], v["appid"])
    plain = crypto.open(
        msg_signature=v["msg_signature"],
        timestamp=v["timestamp"],
        nonce=v["nonce"],
        encrypt=encrypt,
    )
    message = parse_push(plain, "json")
    assert (message.create_time, message.event) == (1714112445, "debug_demo")


def test_the_official_compatible_mode_xml_push(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_wxbizmsgcrypt_sample_xml"]
    body = v["from_xml"].encode()
    # Compatible mode: plaintext fields and Encrypt side by side.
    assert extract_encrypt(body, "xml") == v["Encrypt"]
    outer = parse_push(body, "xml")
    crypto = MessageCrypto(v["token"], v["encoding_aes_key"], v["appid"])
    inner = parse_push(
        crypto.open(
            msg_signature=v["msg_signature"],
            timestamp=v["timestamp"],
            nonce=v["nonce"],
            encrypt=v["Encrypt"],
        ),
        "xml",
    )
    assert (inner.to_user, inner.from_user, inner.create_time) == (
        "gh_10f6c3c3ac5a",
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        1409735668,
    )
    assert (inner.msg_type, inner.content, inner.msg_id) == (
        "text",
        "abcdteT",
        "6054768590064713728",
    )
    assert inner.dedupe_key == outer.dedupe_key == "msg:6054768590064713728"


# ----------------------------------------------------------- the four kinds (PROTOCOL.md §4.3)

KINDS: list[dict[str, Any]] = [
    {
        "ToUserName": "gh_1",
        "FromUserName": "o1",
        "CreateTime": 1482048670,
        "MsgType": "text",
        "Content": "this is a test",
        "MsgId": 1234567890123456,
    },
    {
        "ToUserName": "gh_1",
        "FromUserName": "o1",
        "CreateTime": 1482048670,
        "MsgType": "image",
        "PicUrl": "https://mmbiz.qpic.cn/x",
        "MediaId": "media_id",
        "MsgId": 1234567890123456,
    },
    {
        "ToUserName": "gh_1",
        "FromUserName": "o1",
        "CreateTime": 1482048670,
        "MsgType": "miniprogrampage",
        "MsgId": 1234567890123456,
        "Title": "Title",
        "AppId": "wx7f3d5d2d3c2c2c2c",
        "PagePath": "pages/order?id=1",
        "ThumbUrl": "https://x/t",
        "ThumbMediaId": "thumb",
    },
    {
        "ToUserName": "gh_1",
        "FromUserName": "o1",
        "CreateTime": 1482048670,
        "MsgType": "event",
        "Event": "user_enter_tempsession",
        "SessionFrom": "order-1",
    },
]
ATTRIBUTES = {
    "Content": "content",
    "PicUrl": "pic_url",
    "MediaId": "media_id",
    "Title": "title",
    "AppId": "app_id",
    "PagePath": "page_path",
    "ThumbUrl": "thumb_url",
    "ThumbMediaId": "thumb_media_id",
    "Event": "event",
    "SessionFrom": "session_from",
}


@pytest.mark.parametrize("fields", KINDS, ids=lambda f: f["MsgType"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_each_kind_reads_the_same_from_xml_and_json(fields: dict[str, Any], fmt: str) -> None:
    message = parse_push(render_push(fields, fmt), fmt)  # type: ignore[arg-type]
    assert (message.to_user, message.from_user, message.create_time, message.msg_type) == (
        "gh_1",
        "o1",
        1482048670,
        fields["MsgType"],
    )
    for name, attribute in ATTRIBUTES.items():
        assert getattr(message, attribute) == fields.get(name)
    assert message.msg_id == (str(fields["MsgId"]) if "MsgId" in fields else None)
    expected = f"msg:{fields['MsgId']}" if "MsgId" in fields else "event:o1:1482048670"
    assert message.dedupe_key == expected


def test_nested_fields_are_kept_in_raw() -> None:
    fields: dict[str, XmlValue] = {
        "ToUserName": "gh_1",
        "FromUserName": "o1",
        "CreateTime": 1,
        "MsgType": "event",
        "Event": "xpay_goods_deliver_notify",
        "GoodsInfo": {"ProductId": "p1", "Quantity": 1},
    }
    assert parse_push(render_push(fields, "xml"), "xml").raw["GoodsInfo"] == {
        "ProductId": "p1",
        "Quantity": "1",
    }
    assert parse_push(render_push(fields, "json"), "json").raw["GoodsInfo"] == {
        "ProductId": "p1",
        "Quantity": 1,
    }


def test_the_ack_is_success() -> None:
    assert PUSH_ACK == b"success"


# --------------------------------------------------------------------------- refusals

BASE: dict[str, XmlValue] = {
    "ToUserName": "gh_1",
    "FromUserName": "o1",
    "CreateTime": 1,
    "MsgType": "text",
}


@pytest.mark.parametrize("field", ["ToUserName", "FromUserName", "CreateTime", "MsgType"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_missing_required_field_is_named(field: str, fmt: str) -> None:
    body = render_push({k: v for k, v in BASE.items() if k != field}, fmt)  # type: ignore[arg-type]
    with pytest.raises(MalformedInput, match=f"{field} is missing") as caught:
        parse_push(body, fmt)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("body", "fmt", "says"),
    [
        (
            b'{"ToUserName":"gh","FromUserName":"o","CreateTime":"-1","MsgType":"text"}',
            "json",
            "not Unix seconds",
        ),
        (
            b'{"ToUserName":"gh","FromUserName":"o","CreateTime":1.5,"MsgType":"text"}',
            "json",
            "CreateTime is not text",
        ),
        (
            b'{"ToUserName":"gh","FromUserName":"o","CreateTime":true,"MsgType":"text"}',
            "json",
            "CreateTime is not text",
        ),
        (
            b'{"ToUserName":"gh","FromUserName":"o","CreateTime":1,"MsgType":"text","Content":{"a":1}}',
            "json",
            "Content is not text",
        ),
        (
            b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType><a>1</a></MsgType></xml>",
            "xml",
            "MsgType is not text",
        ),
        (
            b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1e9</CreateTime><MsgType>text</MsgType></xml>",
            "xml",
            "not Unix seconds",
        ),
        (b'{"a":1,"a":2}', "json", "repeats a key"),
        (b'{"CreateTime":NaN}', "json", "constant NaN"),
        (b"[1,2]", "json", "not a JSON object"),
        (b"{", "json", "not JSON"),
        (b"[" * 5000 + b"]" * 5000, "json", "not JSON"),
        ('{"Content":"支付"}'.encode("gbk"), "json", "not UTF-8"),
        ("{}".encode("utf-16"), "json", "not UTF-8"),
    ],
)
def test_bodies_that_are_not_pushes_are_malformed(body: bytes, fmt: str, says: str) -> None:
    with pytest.raises(MalformedInput, match=says):
        parse_push(body, fmt)  # type: ignore[arg-type]


def test_hostile_or_huge_bodies_are_refused_in_both_formats() -> None:
    with pytest.raises(HostileXML):
        parse_push(b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml>&x;</xml>', "xml")
    with pytest.raises(InputTooLarge):
        parse_push(b"{}" + b" " * 65536, "json")
    with pytest.raises(InputTooLarge):
        extract_encrypt(b"<xml>" + b" " * 100 + b"</xml>", "xml", max_bytes=64)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(MalformedInput, match="'xml' or 'json'"):
        parse_push(b"{}", "yaml")  # type: ignore[arg-type]
    with pytest.raises(MalformedInput, match="'xml' or 'json'"):
        render_push({}, "yaml")  # type: ignore[arg-type]


def test_extract_encrypt_needs_the_field() -> None:
    with pytest.raises(MalformedInput, match="Encrypt is missing"):
        extract_encrypt(b'{"ToUserName":"gh_1"}', "json")


def test_render_push_json_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(MalformedInput, match="set cannot be rendered as JSON"):
        render_push({"a": {1, 2}}, "json")  # type: ignore[dict-item]


# -------------------------------------------------------------- send bodies (PROTOCOL.md §4.3)


def test_customer_service_bodies_have_the_documented_shapes() -> None:
    assert custom_text("OPENID", "Hello World") == {
        "touser": "OPENID",
        "msgtype": "text",
        "text": {"content": "Hello World"},
    }
    assert custom_image("OPENID", "MEDIA_ID") == {
        "touser": "OPENID",
        "msgtype": "image",
        "image": {"media_id": "MEDIA_ID"},
    }
    assert custom_link("OPENID", "Happy Day", "Is Really A Happy Day", "URL", "THUMB_URL") == {
        "touser": "OPENID",
        "msgtype": "link",
        "link": {
            "title": "Happy Day",
            "description": "Is Really A Happy Day",
            "url": "URL",
            "thumb_url": "THUMB_URL",
        },
    }
    assert custom_miniprogrampage("OPENID", "title", "pages/index/index?foo=bar", "MEDIA_ID") == {
        "touser": "OPENID",
        "msgtype": "miniprogrampage",
        "miniprogrampage": {
            "title": "title",
            "pagepath": "pages/index/index?foo=bar",
            "thumb_media_id": "MEDIA_ID",
        },
    }


def test_send_bodies_are_compact_utf8() -> None:
    body = encode_send_body(custom_text("o1", '去支付 <a href="https://x/pay">link</a>'))
    assert (
        body
        == '{"touser":"o1","msgtype":"text","text":{"content":"去支付 <a href=\\"https://x/pay\\">link</a>"}}'.encode()
    )


# --------------------------------------------------------------------------- properties

TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"),
    min_size=1,
    max_size=30,
)


@settings(max_examples=100)
@given(
    to_user=TEXT,
    from_user=TEXT,
    create_time=st.integers(0, 10**12 - 1),
    content=TEXT,
    msg_id=st.integers(0, 2**63),
    fmt=st.sampled_from(["xml", "json"]),
)
def test_render_then_parse_round_trips(
    to_user: str, from_user: str, create_time: int, content: str, msg_id: int, fmt: str
) -> None:
    fields = {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": create_time,
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id,
    }
    message = parse_push(render_push(fields, fmt), fmt)  # type: ignore[arg-type]
    assert message == PushedMessage(
        to_user=to_user,
        from_user=from_user,
        create_time=create_time,
        msg_type="text",
        content=content,
        msg_id=str(msg_id),
        raw=message.raw,
    )
