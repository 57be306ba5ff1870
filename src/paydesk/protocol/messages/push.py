"""Customer-service message push: incoming pushes (XML or JSON) and outgoing send bodies.

WeChat pushes what a user sends to the mini program's customer service to our URL, as XML
or JSON depending on the app's setting (PROTOCOL.md §4.3,
https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/customer-message/receive.html).
Both formats become one :class:`PushedMessage`. In safe or compatible mode the body also
carries ``Encrypt`` (:func:`extract_encrypt`), which :class:`~.crypto.MessageCrypto` opens into
the real push. We answer ``success`` (:data:`PUSH_ACK`) within 5 s, and reply through the
customer-service send API (``custom_*`` builders below), not in the response.

>>> msg = parse_push(b'{"ToUserName":"gh_1","FromUserName":"o1","CreateTime":1714037059,'
...                  b'"MsgType":"text","Content":"hi","MsgId":23}', "json")
>>> msg.content, msg.dedupe_key
('hi', 'msg:23')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, TypeAlias

from paydesk.protocol.errors import InputTooLarge, MalformedInput
from paydesk.protocol.xmlcodec import DEFAULT_MAX_BYTES, XmlValue, parse_xml, to_xml

__all__ = [
    "PUSH_ACK",
    "PushFormat",
    "PushedMessage",
    "custom_image",
    "custom_link",
    "custom_miniprogrampage",
    "custom_text",
    "encode_send_body",
    "extract_encrypt",
    "parse_push",
    "render_push",
]

#: The push formats a mini program can choose in its message-push settings.
PushFormat: TypeAlias = Literal["xml", "json"]
#: The passive reply that acknowledges a push without answering the user.
PUSH_ACK = b"success"

# PushedMessage attribute ← push field, for the optional text fields.
_OPTIONAL = {
    "content": "Content",
    "msg_id": "MsgId",
    "title": "Title",
    "app_id": "AppId",
    "page_path": "PagePath",
    "thumb_url": "ThumbUrl",
    "thumb_media_id": "ThumbMediaId",
    "pic_url": "PicUrl",
    "media_id": "MediaId",
    "event": "Event",
    "session_from": "SessionFrom",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedMessage:
    """One push, whatever its format: text, image, mini program card or event.

    Fields a push type does not have are ``None``; ``raw`` keeps every field as parsed
    (nested objects included, e.g. virtual-payment ``xpay_*`` events).

    >>> PushedMessage(to_user="gh_1", from_user="o1", create_time=1, msg_type="text",
    ...               content="hi", msg_id="42").dedupe_key
    'msg:42'
    """

    to_user: str  #: the mini program's original id (``gh_…``)
    from_user: str  #: the user's openid
    create_time: int  #: Unix seconds
    msg_type: str  #: ``text`` | ``image`` | ``miniprogrampage`` | ``event`` | …
    content: str | None = None
    msg_id: str | None = None
    title: str | None = None
    app_id: str | None = None
    page_path: str | None = None
    thumb_url: str | None = None
    thumb_media_id: str | None = None
    pic_url: str | None = None
    media_id: str | None = None
    event: str | None = None
    session_from: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        """Stable across WeChat's retries: ``MsgId``, or sender + ``CreateTime`` for events.

        >>> PushedMessage(to_user="gh", from_user="o1", create_time=5, msg_type="event",
        ...               event="user_enter_tempsession").dedupe_key
        'event:o1:5'
        """
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{self.from_user}:{self.create_time}"


def _refuse_constant(name: str) -> NoReturn:
    raise MalformedInput(f"JSON constant {name} is not allowed")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MalformedInput("JSON object repeats a key")
    return obj


def _load_json(body: bytes, max_bytes: int) -> dict[str, Any]:
    if len(body) > max_bytes:
        raise InputTooLarge(f"push body of {len(body)} bytes is over the {max_bytes}-byte cap")
    try:
        loaded = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_refuse_duplicates,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as exc:
        raise MalformedInput("push body is not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise MalformedInput(f"push body is not JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise MalformedInput("push body is not a JSON object")
    return loaded


def _load(body: bytes, fmt: PushFormat, max_bytes: int) -> dict[str, Any]:
    if fmt == "xml":
        return parse_xml(body, max_bytes=max_bytes, root="xml")
    if fmt == "json":
        return _load_json(body, max_bytes)
    raise MalformedInput(f"push format must be 'xml' or 'json', not {fmt!r}", field="fmt")


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # JSON pushes send MsgId and the like as numbers
    raise MalformedInput(f"push field {name} is not text", field=name)


def _required(fields: Mapping[str, Any], name: str) -> str:
    value = _text(fields, name)
    if not value:
        raise MalformedInput(f"push field {name} is missing", field=name)
    return value


def _create_time(fields: Mapping[str, Any]) -> int:
    text = _required(fields, "CreateTime")
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise MalformedInput(f"push CreateTime is not Unix seconds: {text!r}", field="CreateTime")
    return int(text)


def parse_push(
    body: bytes, fmt: PushFormat, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> PushedMessage:
    """Parse a plain push (or a decrypted safe-mode one) into a :class:`PushedMessage`.

    >>> parse_push(b"<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName>"
    ...            b"<CreateTime>7</CreateTime><MsgType>image</MsgType><PicUrl>u</PicUrl>"
    ...            b"<MediaId>m</MediaId><MsgId>9</MsgId></xml>", "xml").media_id
    'm'
    """
    fields = _load(body, fmt, max_bytes)
    optional = {attribute: _text(fields, name) for attribute, name in _OPTIONAL.items()}
    return PushedMessage(
        to_user=_required(fields, "ToUserName"),
        from_user=_required(fields, "FromUserName"),
        create_time=_create_time(fields),
        msg_type=_required(fields, "MsgType"),
        raw=fields,
        **optional,
    )


def extract_encrypt(body: bytes, fmt: PushFormat, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The ``Encrypt`` field of a safe- or compatible-mode push body.

    >>> extract_encrypt(b'{"ToUserName":"gh_1","Encrypt":"c2VjcmV0"}', "json")
    'c2VjcmV0'
    """
    return _required(_load(body, fmt, max_bytes), "Encrypt")


def _as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise MalformedInput(f"{type(value).__name__} cannot be rendered as JSON")


def render_push(fields: Mapping[str, XmlValue], fmt: PushFormat) -> bytes:
    """Render a push body the way WeChat sends it (the sandbox uses this).

    >>> render_push({"ToUserName": "gh", "CreateTime": 7}, "xml")
    b'<xml><ToUserName><![CDATA[gh]]></ToUserName><CreateTime>7</CreateTime></xml>'
    >>> render_push({"ToUserName": "gh", "CreateTime": 7}, "json")
    b'{"ToUserName":"gh","CreateTime":7}'
    """
    if fmt == "xml":
        return to_xml(fields).encode()
    if fmt == "json":
        return encode_send_body(_as_dict(fields))
    raise MalformedInput(f"push format must be 'xml' or 'json', not {fmt!r}", field="fmt")


def encode_send_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON for a send API body, Chinese left as is (not ``\\uXXXX``).

    This is how wechatpy's client sends JSON to WeChat (``wechatpy/client/base.py``).

    >>> encode_send_body(custom_text("o1", "你好")).decode()
    '{"touser":"o1","msgtype":"text","text":{"content":"你好"}}'
    """
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_as_dict).encode()


def custom_text(touser: str, content: str) -> dict[str, Any]:
    """A customer-service text message (may hold ``<a href>`` links).

    >>> custom_text("o1", "hi")
    {'touser': 'o1', 'msgtype': 'text', 'text': {'content': 'hi'}}
    """
    return {"touser": touser, "msgtype": "text", "text": {"content": content}}


def custom_image(touser: str, media_id: str) -> dict[str, Any]:
    """A customer-service image message (``media_id`` from the temporary-media upload).

    >>> custom_image("o1", "m1")["image"]
    {'media_id': 'm1'}
    """
    return {"touser": touser, "msgtype": "image", "image": {"media_id": media_id}}


def custom_link(
    touser: str, title: str, description: str, url: str, thumb_url: str
) -> dict[str, Any]:
    """A customer-service link card: the iOS virtual-goods road to an OAuth + JSAPI page.

    >>> custom_link("o1", "Pay", "Order 1", "https://x.example/p", "https://x.example/t.png")[
    ...     "link"]["url"]
    'https://x.example/p'
    """
    link = {"title": title, "description": description, "url": url, "thumb_url": thumb_url}
    return {"touser": touser, "msgtype": "link", "link": link}


def custom_miniprogrampage(
    touser: str, title: str, pagepath: str, thumb_media_id: str
) -> dict[str, Any]:
    """A customer-service mini program card opening ``pagepath``.

    >>> custom_miniprogrampage("o1", "Order", "pages/order?id=1", "m1")["msgtype"]
    'miniprogrampage'
    """
    page = {"title": title, "pagepath": pagepath, "thumb_media_id": thumb_media_id}
    return {"touser": touser, "msgtype": "miniprogrampage", "miniprogrampage": page}
