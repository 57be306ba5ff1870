"""Build a message push as WeChat does: the fields, the signed query, plain / compatible / safe
bodies (PROTOCOL.md §4.3, §4.4).

- ``plain``: the message itself; the query carries ``signature`` over token, timestamp, nonce.
- ``safe``: ``{ToUserName, Encrypt}``; the query adds ``encrypt_type=aes`` and
  ``msg_signature`` (which also covers ``Encrypt``).
- ``compatible``: the plain fields *and* ``Encrypt``, with the safe-mode query.

https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html

    >>> original_id("wx5a0d5a0d00000001")[:3]
    'gh_'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from paydesk.protocol.messages import MessageCrypto, PushFormat, push_signature, render_push
from paydesk.protocol.xmlcodec import XmlValue
from paydesk.sandbox.credentials import AppCredentials

PushMode = Literal["plain", "compatible", "safe"]
MODES: tuple[PushMode, ...] = ("plain", "compatible", "safe")
FORMATS: tuple[PushFormat, ...] = ("xml", "json")

#: Per message type: required fields, and optional fields the sandbox fills when absent.
MESSAGE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "text": (("Content",), ()),
    "image": ((), ("PicUrl", "MediaId")),
    "miniprogrampage": (("Title", "PagePath"), ("AppId", "ThumbUrl", "ThumbMediaId")),
    "event": (("Event",), ("SessionFrom",)),
}
#: What each kind of app receives (official accounts push XML only, and no mini program cards).
APP_MESSAGE_TYPES = {
    "miniprogram": ("text", "image", "miniprogrampage", "event"),
    "official_account": ("text", "image"),
}
EVENTS = ("user_enter_tempsession",)
# What XML 1.0 cannot carry (https://www.w3.org/TR/xml/#charsets), lone surrogates included.
UNSENDABLE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class PushRefused(ValueError):
    """The requested push is not one WeChat would send; the message says why."""


@dataclass(frozen=True)
class SealedPush:
    """What goes over the wire: the query (in WeChat's order) and the exact body."""

    query: dict[str, str]
    body: bytes


def original_id(appid: str) -> str:
    """The app's original id (``gh_`` + 12 hex), stable for an appid: ``ToUserName``."""
    return "gh_" + hashlib.sha256(appid.encode()).hexdigest()[:12]


def message_fields(
    app: AppCredentials,
    openid: str,
    message: Mapping[str, Any],
    *,
    create_time: int,
    msg_id: int,
    defaults: Mapping[str, str],
) -> dict[str, XmlValue]:
    """The push's fields in WeChat's order; events carry no ``MsgId``.

    ``defaults`` fill the optional fields the caller left out (PicUrl, MediaId, AppId…).
    """
    msg_type = message.get("MsgType")
    if msg_type not in APP_MESSAGE_TYPES[app.type]:
        allowed = ", ".join(APP_MESSAGE_TYPES[app.type])
        raise PushRefused(f"MsgType must be one of {allowed} for a {app.type}")
    required, optional = MESSAGE_TYPES[msg_type]
    unknown = set(message) - {"MsgType", *required, *optional}
    if unknown:
        raise PushRefused(f"unknown fields for {msg_type}: {', '.join(sorted(unknown))}")
    fields: dict[str, XmlValue] = {
        "ToUserName": original_id(app.appid),
        "FromUserName": openid,
        "CreateTime": create_time,
        "MsgType": msg_type,
    }
    for name in required:
        value = message.get(name)
        if not isinstance(value, str) or not value:
            raise PushRefused(f"{msg_type} needs {name} (a non-empty string)")
        fields[name] = value
    for name in optional:
        value = message.get(name, defaults.get(name, ""))
        if not isinstance(value, str):
            raise PushRefused(f"{name} must be a string")
        fields[name] = value
    for name in (*required, *optional):
        if UNSENDABLE.search(str(fields[name])):
            raise PushRefused(f"{name} holds a character WeChat cannot send")
    if msg_type == "event":
        if fields["Event"] not in EVENTS:
            raise PushRefused(f"Event must be one of {', '.join(EVENTS)}")
    else:
        fields["MsgId"] = msg_id
    return fields


def seal_push(
    app: AppCredentials,
    fields: Mapping[str, XmlValue],
    *,
    mode: PushMode,
    fmt: PushFormat,
    timestamp: str,
    nonce: str,
    random16: bytes,
) -> SealedPush:
    """Sign (and in safe / compatible mode encrypt) ``fields`` with the app's push token and
    EncodingAESKey, as WeChat sends them to the push URL."""
    plain = render_push(fields, fmt)
    query = {
        "signature": push_signature(app.push_token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": str(fields["FromUserName"]),
    }
    if mode == "plain":
        return SealedPush(query, plain)
    crypto = MessageCrypto(app.push_token, app.encoding_aes_key, app.appid)
    encrypt = crypto.encrypt(plain, random16=random16)
    query["encrypt_type"] = "aes"
    query["msg_signature"] = push_signature(app.push_token, timestamp, nonce, encrypt)
    envelope: dict[str, XmlValue] = (
        {"ToUserName": fields["ToUserName"], "Encrypt": encrypt}
        if mode == "safe"
        else {**fields, "Encrypt": encrypt}
    )
    return SealedPush(query, render_push(envelope, fmt))
