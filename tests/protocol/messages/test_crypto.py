"""paydesk.protocol.messages.crypto: WXBizMsgCrypt safe mode."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from paydesk.protocol.errors import DecryptError, KeyFormatError, MalformedInput, SignatureMismatch
from paydesk.protocol.messages.crypto import MessageCrypto
from paydesk.protocol.messages.signature import push_signature
from paydesk.protocol.xmlcodec import parse_xml

TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"


def _crypto() -> MessageCrypto:
    return MessageCrypto(TOKEN, AES_KEY, APPID)


# --------------------------------------------------------------------------- official vectors


def test_official_safe_mode_json_push_opens(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_safe_mode_POST_json"]
    crypto = MessageCrypto(v["token"], v["encoding_aes_key"], v["appid"])
    plain = crypto.open(
        msg_signature=v["msg_signature"],
        timestamp=v["timestamp"],
        nonce=v["nonce"],
        encrypt=v["body"]["Encrypt"],
    )
    assert plain.decode() == v["decrypted"]["msg"]
    assert len(plain) == v["decrypted"]["msg_len"]
    # Sealing the message again with the vector's random16 gives back the same Encrypt.
    assert (
        crypto.encrypt(plain, random16=v["decrypted"]["random16"].encode()) == v["body"]["Encrypt"]
    )


def test_official_encrypted_reply_is_reproduced_byte_for_byte(
    case: dict[str, dict[str, Any]],
) -> None:
    v = case["official_safe_mode_POST_json"]
    reply = v["reply"]
    crypto = MessageCrypto(v["token"], v["encoding_aes_key"], v["appid"])
    sealed = crypto.seal_reply(
        reply["plaintext"].encode(),
        timestamp=reply["TimeStamp"],
        nonce=reply["Nonce"],
        random16=reply["random16"].encode(),
        fmt="json",
    )
    assert json.loads(sealed) == {
        k: reply[k] for k in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
    }
    assert list(json.loads(sealed)) == ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]


def test_official_wxbizmsgcrypt_sample_opens(case: dict[str, dict[str, Any]]) -> None:
    v = case["official_wxbizmsgcrypt_sample_xml"]
    crypto = MessageCrypto(v["token"], v["encoding_aes_key"], v["appid"])
    plain = crypto.open(
        msg_signature=v["msg_signature"],
        timestamp=v["timestamp"],
        nonce=v["nonce"],
        encrypt=v["Encrypt"],
    )
    assert plain.decode() == v["decrypted"]["msg"]
    # The sealing side: the same random16 gives back the very same Encrypt.
    again = crypto.encrypt(plain, random16=v["decrypted"]["random16"].encode())
    assert again == v["Encrypt"]


def test_wecom_vectors_use_the_same_algorithm(case: dict[str, dict[str, Any]]) -> None:
    v = case["wechatpy_wecom_encrypt_decrypt"]
    crypto = MessageCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
    d = v["decrypt"]
    plain = crypto.open(
        msg_signature=d["msg_signature"],
        timestamp=d["timestamp"],
        nonce=d["nonce"],
        encrypt=d["Encrypt"],
    )
    assert plain.decode() == d["expected"]["msg"]
    assert crypto.encrypt(plain, random16=d["expected"]["random16"].encode()) == d["Encrypt"]
    e = v["encrypt"]
    sealed = crypto.seal_reply(
        e["plaintext"].encode(),
        timestamp=int(e["timestamp"]),
        nonce=e["nonce"],
        random16=e["random16"].encode(),
        fmt="xml",
    )
    assert parse_xml(sealed) == {
        "Encrypt": e["expected_Encrypt"],
        "MsgSignature": e["expected_MsgSignature"],
        "TimeStamp": e["timestamp"],
        "Nonce": e["nonce"],
    }
    assert f"<TimeStamp>{e['timestamp']}</TimeStamp>" in sealed


# --------------------------------------------------------------------------- wechatpy


def test_wechatpy_opens_what_we_seal() -> None:
    sealed = _crypto().seal_reply(
        "<xml><Content>你好</Content></xml>".encode(),
        timestamp=1409735669,
        nonce="1320562132",
        random16=b"0123456789abcdef",
        fmt="xml",
    )
    fields = parse_xml(sealed)
    theirs = WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(
        sealed, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    )
    assert theirs == "<xml><Content>你好</Content></xml>"


def test_we_open_what_wechatpy_seals() -> None:
    sealed = WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(
        "<xml><Content>hi</Content></xml>", "n1", "1409735669"
    )
    fields = parse_xml(sealed)
    plain = _crypto().open(
        msg_signature=fields["MsgSignature"],
        timestamp=fields["TimeStamp"],
        nonce=fields["Nonce"],
        encrypt=fields["Encrypt"],
    )
    assert plain == b"<xml><Content>hi</Content></xml>"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("key", "says"),
    [("A" * 42, "43 characters, got 42"), ("A" * 44, "got 44"), ("!" * 43, "not base64")],
)
def test_a_malformed_encoding_aes_key_is_refused(key: str, says: str) -> None:
    with pytest.raises(KeyFormatError, match=says):
        MessageCrypto(TOKEN, key, APPID)


def test_the_repr_shows_no_secret() -> None:
    assert repr(_crypto()) == "MessageCrypto(appid='wx2c2769f8efd9abc2')"


def test_a_bad_msg_signature_is_refused_before_decrypting() -> None:
    encrypt = _crypto().encrypt(b"x", random16=bytes(16))
    with pytest.raises(SignatureMismatch, match="msg_signature"):
        _crypto().open(msg_signature="0" * 40, timestamp="1", nonce="n", encrypt=encrypt)
    with pytest.raises(SignatureMismatch):
        _crypto().open(msg_signature="0" * 40, timestamp="1", nonce="n", encrypt="not even base64")


def _raw_seal(plain: bytes, key: str = AES_KEY) -> str:
    aes_key = base64.b64decode(key + "=")
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(aes_key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _padded(plain: bytes) -> bytes:
    count = 32 - len(plain) % 32
    return plain + bytes([count]) * count


@pytest.mark.parametrize(
    ("encrypt", "says"),
    [
        ("@@@@", "not base64"),
        ("", "0 bytes"),
        (base64.b64encode(bytes(15)).decode(), "15 bytes"),
        (_raw_seal(bytes(32)), "padding is wrong"),
        # Padded to AES's 16-byte blocks, not WXBizMsgCrypt's 32: 48 bytes cannot be unpadded.
        (_raw_seal(bytes(32) + bytes([16]) * 16), "padding is wrong"),
        (_raw_seal(_padded(bytes(19))), "too short"),
        (
            _raw_seal(_padded(bytes(16) + struct.pack(">I", 100) + b"short" + APPID.encode())),
            "runs past its end",
        ),
        (
            _raw_seal(_padded(bytes(16) + struct.pack(">I", 2) + b"hi" + b"wx0000000000000000")),
            "another appid",
        ),
    ],
    ids=[
        "base64",
        "empty",
        "partial-block",
        "zero-pad",
        "pad-16-byte-blocks",
        "short",
        "length",
        "appid",
    ],
)
def test_damaged_or_foreign_encrypt_is_a_decrypt_error(encrypt: str, says: str) -> None:
    with pytest.raises(DecryptError, match=says):
        _crypto().decrypt(encrypt)


def test_another_apps_key_cannot_decrypt() -> None:
    sealed = MessageCrypto(TOKEN, "B" * 43, APPID).encrypt(b"secret", random16=bytes(16))
    with pytest.raises(DecryptError):
        _crypto().decrypt(sealed)


def test_random16_must_be_16_bytes() -> None:
    with pytest.raises(MalformedInput, match="16 bytes, got 15"):
        _crypto().encrypt(b"x", random16=bytes(15))


def test_an_unknown_reply_format_is_refused() -> None:
    with pytest.raises(MalformedInput, match="'xml' or 'json'"):
        _crypto().seal_reply(b"x", timestamp=1, nonce="n", random16=bytes(16), fmt="yaml")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties


@settings(max_examples=100)
@given(
    message=st.binary(max_size=300),
    random16=st.binary(min_size=16, max_size=16),
    appid=st.from_regex(r"wx[0-9a-f]{16}", fullmatch=True),
)
def test_encrypt_then_decrypt_round_trips(message: bytes, random16: bytes, appid: str) -> None:
    crypto = MessageCrypto(TOKEN, AES_KEY, appid)
    assert crypto.decrypt(crypto.encrypt(message, random16=random16)) == message


@settings(max_examples=100)
@given(
    message=st.binary(max_size=200),
    timestamp=st.integers(0, 2**32),
    nonce=st.from_regex(r"[0-9]{1,10}", fullmatch=True),
    fmt=st.sampled_from(["xml", "json"]),
)
def test_seal_then_open_round_trips(
    message: bytes, timestamp: int, nonce: str, fmt: Literal["xml", "json"]
) -> None:
    sealed = _crypto().seal_reply(
        message, timestamp=timestamp, nonce=nonce, random16=bytes(16), fmt=fmt
    )
    fields = parse_xml(sealed) if fmt == "xml" else json.loads(sealed)
    opened = _crypto().open(
        msg_signature=fields["MsgSignature"],
        timestamp=str(fields["TimeStamp"]),
        nonce=fields["Nonce"],
        encrypt=fields["Encrypt"],
    )
    assert opened == message


@settings(max_examples=100)
@given(message=st.binary(max_size=200), data=st.data())
def test_any_changed_encrypt_character_is_refused_by_open(
    message: bytes, data: st.DataObject
) -> None:
    crypto = _crypto()
    encrypt = crypto.encrypt(message, random16=bytes(16))
    signature_parts = {"timestamp": "1409735669", "nonce": "1320562132"}
    msg_signature = push_signature(TOKEN, *signature_parts.values(), encrypt)
    index = data.draw(st.integers(0, len(encrypt) - 1))
    other = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=").filter(
            lambda c: c != encrypt[index]
        )
    )
    tampered = encrypt[:index] + other + encrypt[index + 1 :]
    with pytest.raises(SignatureMismatch):
        crypto.open(msg_signature=msg_signature, encrypt=tampered, **signature_parts)
