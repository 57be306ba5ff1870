"""paydesk.domain.push.receive: the official message-push vectors, every mode, and refusals.

``vectors/wxbizmsgcrypt_and_push_signature.json`` is a verbatim copy of
/work/shared/wechat/vectors/wxbizmsgcrypt_and_push_signature.json (each case keeps its
``source``): the message-push page's worked examples (Token ``AAAAA``) and the official
WXBizMsgCrypt sample (Token ``spamtest``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from paydesk.domain.errors import InvalidInput, NotFound, Unauthenticated
from paydesk.domain.push.receive import PushQuery, check_server, open_push, push_app, push_format
from paydesk.domain.registry import Registry
from paydesk.protocol.messages import MessageCrypto, push_signature
from paydesk.settings import AppConfig, PaydeskConfig
from paydesk.settings.config import PushMode

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "wxbizmsgcrypt_and_push_signature.json").read_text(
        encoding="utf-8"
    )
)
CASES: dict[str, dict[str, Any]] = {case["id"]: case for case in VECTORS["cases"]}
OFFICIAL_APPID = "wxba5fad812f8e6fb9"  # the message-push page's examples
TOLERANCE = 300


def an_app(
    *,
    appid: str = OFFICIAL_APPID,
    token: str = "AAAAA",
    key: str | None = "A" * 43,
    mode: PushMode = "safe",
    original_id: str | None = None,
) -> AppConfig:
    return AppConfig(
        appid=appid,
        type="miniprogram",
        secret=SecretStr("app-secret"),
        push_token=SecretStr(token),
        encoding_aes_key=None if key is None else SecretStr(key),
        push_mode=mode,
        original_id=original_id,
        merchants=("1900000001",),
    )


def at(timestamp: str | int) -> datetime:
    return datetime.fromtimestamp(int(timestamp), UTC)


def signed(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> PushQuery:
    """The query WeChat sends: ``signature``, plus ``msg_signature`` when ``encrypt`` is given."""
    if encrypt is None:
        return PushQuery(push_signature(token, timestamp, nonce), timestamp, nonce)
    return PushQuery(
        push_signature(token, timestamp, nonce),
        timestamp,
        nonce,
        "aes",
        push_signature(token, timestamp, nonce, encrypt),
    )


# --- the server check ---------------------------------------------------------------------------


def test_the_official_server_check_echoes_echostr() -> None:
    case = CASES["official_url_verification_GET"]
    query = PushQuery(case["signature"], case["timestamp"], case["nonce"])
    echoed = check_server(
        an_app(token=case["token"]),
        query,
        case["echostr"],
        now=at(case["timestamp"]),
        tolerance=TOLERANCE,
    )
    assert echoed == case["expected_response_body"]


def test_a_server_check_with_another_signature_is_refused() -> None:
    case = CASES["official_url_verification_GET"]
    query = PushQuery(case["signature"].replace("f", "e", 1), case["timestamp"], case["nonce"])
    with pytest.raises(Unauthenticated) as refused:
        check_server(an_app(), query, case["echostr"], now=at(case["timestamp"]), tolerance=300)
    assert refused.value.code == "bad_push_signature"
    assert case["echostr"] not in refused.value.message


@pytest.mark.parametrize("drift", [-301, 301])
def test_a_server_check_outside_the_window_is_stale(drift: int) -> None:
    case = CASES["official_url_verification_GET"]
    query = PushQuery(case["signature"], case["timestamp"], case["nonce"])
    now = at(int(case["timestamp"]) + drift)
    with pytest.raises(Unauthenticated) as refused:
        check_server(an_app(), query, case["echostr"], now=now, tolerance=TOLERANCE)
    assert refused.value.code == "stale_push"


@pytest.mark.parametrize("timestamp", ["", "17140365O4", "-1714036504", "1" * 13, "１２３"])
def test_a_timestamp_that_is_not_unix_seconds_is_malformed(timestamp: str) -> None:
    query = PushQuery("0" * 40, timestamp, "1")
    with pytest.raises(InvalidInput) as refused:
        check_server(an_app(), query, "e", now=at(1714036504), tolerance=TOLERANCE)
    assert refused.value.code == "malformed_push"


# --- plain mode ---------------------------------------------------------------------------------


def test_the_official_plain_push_opens_in_plain_mode() -> None:
    case = CASES["official_plaintext_POST_json"]
    query = PushQuery(case["signature"], case["timestamp"], case["nonce"])
    message = open_push(
        an_app(token=case["token"], mode="plain"),
        query,
        case["body"].encode(),
        "application/json",
        now=at(case["timestamp"]),
        tolerance=TOLERANCE,
    )
    assert (message.msg_type, message.event) == ("event", "debug_demo")
    assert message.from_user == "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"
    assert message.raw["debug_str"] == "hello world"


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_an_encrypting_app_refuses_a_plain_push(mode: PushMode) -> None:
    case = CASES["official_plaintext_POST_json"]
    query = PushQuery(case["signature"], case["timestamp"], case["nonce"])
    with pytest.raises(Unauthenticated) as refused:
        open_push(
            an_app(mode=mode),
            query,
            case["body"].encode(),
            None,
            now=at(case["timestamp"]),
            tolerance=TOLERANCE,
        )
    assert refused.value.code == "push_not_encrypted"


def test_a_plain_push_with_a_forged_signature_is_refused_before_parsing() -> None:
    case = CASES["official_plaintext_POST_json"]
    query = PushQuery("0" * 40, case["timestamp"], case["nonce"])
    with pytest.raises(Unauthenticated) as refused:
        open_push(
            an_app(mode="plain"),
            query,
            b"<xml><!DOCTYPE boom></xml>",  # never parsed: the signature fails first
            None,
            now=at(case["timestamp"]),
            tolerance=TOLERANCE,
        )
    assert refused.value.code == "bad_push_signature"


@pytest.mark.parametrize(
    "body", [b'{"ToUserName": "gh_1"', b'{"ToUserName": "gh_1"}', b"<xml><a>1</b></xml>"]
)
def test_a_signed_but_broken_plain_push_is_malformed(body: bytes) -> None:
    query = signed("AAAAA", "1714037059", "n1")
    with pytest.raises(InvalidInput) as refused:
        open_push(an_app(mode="plain"), query, body, None, now=at(1714037059), tolerance=TOLERANCE)
    assert refused.value.code == "malformed_push"


# --- safe and compatible modes ------------------------------------------------------------------


def test_the_official_safe_mode_push_opens() -> None:
    case = CASES["official_safe_mode_POST_json"]
    query = PushQuery(
        case["signature"],
        case["timestamp"],
        case["nonce"],
        case["encrypt_type"],
        case["msg_signature"],
    )
    message = open_push(
        an_app(token=case["token"], key=case["encoding_aes_key"], appid=case["appid"]),
        query,
        json.dumps(case["body"]).encode(),
        "application/json",
        now=at(case["timestamp"]),
        tolerance=TOLERANCE,
    )
    assert message.raw == json.loads(case["decrypted"]["msg"])


def test_the_official_wxbizmsgcrypt_sample_opens_in_compatible_mode() -> None:
    case = CASES["official_wxbizmsgcrypt_sample_xml"]
    app = an_app(
        token=case["token"], key=case["encoding_aes_key"], appid=case["appid"], mode="compatible"
    )
    query = PushQuery("", case["timestamp"], case["nonce"], "aes", case["msg_signature"])
    # The plain copy of a compatible push is not signed: paydesk reads the encrypted one.
    forged_plain_copy = case["from_xml"].replace("abcdteT", "forged!")
    message = open_push(
        app,
        query,
        forged_plain_copy.encode(),
        "text/xml",
        now=at(case["timestamp"]),
        tolerance=TOLERANCE,
    )
    assert (message.msg_type, message.content, message.msg_id) == (
        "text",
        "abcdteT",
        "6054768590064713728",
    )
    assert message.dedupe_key == "msg:6054768590064713728"


def test_a_plain_mode_app_still_opens_an_encrypted_push() -> None:
    case = CASES["official_safe_mode_POST_json"]
    query = PushQuery("", case["timestamp"], case["nonce"], "aes", case["msg_signature"])
    message = open_push(
        an_app(mode="plain"),
        query,
        json.dumps(case["body"]).encode(),
        None,
        now=at(case["timestamp"]),
        tolerance=TOLERANCE,
    )
    assert message.event == "debug_demo"


def sealed(
    message: bytes, *, token: str = "t0ken", key: str = "B" * 43, appid: str = OFFICIAL_APPID
) -> tuple[PushQuery, bytes]:
    """A safe-mode XML push of ``message``, as WeChat seals it."""
    encrypt = MessageCrypto(token, key, appid).encrypt(message, random16=bytes(16))
    body = f"<xml><ToUserName>gh_1</ToUserName><Encrypt>{encrypt}</Encrypt></xml>".encode()
    return signed(token, "1714037059", "n2", encrypt), body


TEXT = (
    b"<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>o1</FromUserName>"
    b"<CreateTime>1714037059</CreateTime><MsgType>text</MsgType><Content>hi</Content>"
    b"<MsgId>7</MsgId></xml>"
)


def open_sealed(app: AppConfig, query: PushQuery, body: bytes) -> None:
    open_push(app, query, body, "text/xml", now=at(1714037059), tolerance=TOLERANCE)


def test_a_tampered_encrypt_fails_the_msg_signature() -> None:
    query, body = sealed(TEXT)
    tampered = body.replace(b"<Encrypt>", b"<Encrypt>A", 1)
    with pytest.raises(Unauthenticated) as refused:
        open_sealed(an_app(token="t0ken", key="B" * 43), query, tampered)
    assert refused.value.code == "bad_push_signature"


def test_an_encrypted_push_without_msg_signature_is_refused() -> None:
    query, body = sealed(TEXT)
    bare = PushQuery(query.signature, query.timestamp, query.nonce, "aes", None)
    with pytest.raises(Unauthenticated):
        open_sealed(an_app(token="t0ken", key="B" * 43), bare, body)


@pytest.mark.parametrize(
    ("app", "code"),
    [
        (an_app(token="t0ken", key="C" * 43), "undecryptable_push"),  # our key is wrong
        (an_app(token="t0ken", key="B" * 43, appid="wx0000000000000009"), "undecryptable_push"),
        (an_app(token="t0ken", key=None), "push_encrypted"),
        (an_app(token="t0ken", key="B" * 42), "push_key_invalid"),
        (an_app(token="t0ken", key="B" * 43, original_id="gh_ffffffffffff"), "push_wrong_app"),
    ],
)
def test_a_signed_push_this_app_cannot_take_is_refused(app: AppConfig, code: str) -> None:
    query, body = sealed(TEXT)
    with pytest.raises(InvalidInput) as refused:
        open_sealed(app, query, body)
    assert refused.value.code == code


def test_an_app_with_its_original_id_takes_pushes_to_it() -> None:
    query, body = sealed(TEXT)
    app = an_app(token="t0ken", key="B" * 43, original_id="gh_0123456789ab")
    open_sealed(app, query, body)


def test_an_unknown_encrypt_type_is_malformed() -> None:
    query, body = sealed(TEXT)
    odd = PushQuery(query.signature, query.timestamp, query.nonce, "des", query.msg_signature)
    with pytest.raises(InvalidInput) as refused:
        open_sealed(an_app(token="t0ken", key="B" * 43), odd, body)
    assert refused.value.code == "malformed_push"


def test_an_encrypted_push_without_encrypt_is_malformed() -> None:
    query, _ = sealed(TEXT)
    with pytest.raises(InvalidInput) as refused:
        open_sealed(
            an_app(token="t0ken", key="B" * 43), query, b"<xml><ToUserName>g</ToUserName></xml>"
        )
    assert refused.value.code == "malformed_push"


# --- formats and apps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (None, b"<xml/>", "xml"),
        ("application/json", b"\n <xml/>", "xml"),  # the body decides
        ("text/xml; charset=utf-8", b"", "xml"),
        ("application/json;charset=UTF-8", b"  ", "json"),
        (None, b'{"a": 1}', "json"),
    ],
)
def test_the_format_comes_from_the_body_then_the_content_type(
    content_type: str | None, body: bytes, expected: str
) -> None:
    assert push_format(content_type, body) == expected


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_neither_xml_nor_json_is_malformed(content_type: str | None) -> None:
    with pytest.raises(InvalidInput):
        push_format(content_type, b"ToUserName=gh_1")


def test_only_apps_with_a_push_token_take_pushes() -> None:
    config = PaydeskConfig(
        apps=[
            an_app(),
            AppConfig(
                appid="wx0000000000000002",
                type="official_account",
                secret=SecretStr("s"),
                merchants=("1900000001",),
            ),
        ]
    )
    registry = Registry(config, "https://pay.example.com")
    assert push_app(registry, OFFICIAL_APPID).appid == OFFICIAL_APPID
    with pytest.raises(NotFound) as no_token:
        push_app(registry, "wx0000000000000002")
    assert no_token.value.code == "push_not_configured"
    with pytest.raises(NotFound) as unknown:
        push_app(registry, "wx0000000000000003")
    assert unknown.value.code == "app_not_found"
