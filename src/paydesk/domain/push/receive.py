"""Verify, then open, what WeChat pushes to ``/wechat/push/{appid}`` (PROTOCOL.md §4.3, §4.4).

Nothing in a push is parsed before its signature holds. Which signature depends on the mode:

* **plain** — ``signature`` = sha1(sorted [token, timestamp, nonce]) over the query only;
  the body is not signed, so a captured URL could carry another body. The timestamp window
  (:attr:`~paydesk.domain.push.replies.PushSettings.timestamp_tolerance`) bounds that replay.
* **compatible** and **safe** — ``encrypt_type=aes`` and ``msg_signature``, which also covers
  the body's ``Encrypt``; the message is what ``Encrypt`` decrypts to (the plain fields a
  compatible push also carries are not signed and are ignored), and its trailing appid must
  be this app's.

An app configured for safe or compatible mode refuses plain pushes: a forger who saw one
signed URL must not be able to downgrade. An app configured for plain mode still opens an
encrypted push when it has an EncodingAESKey (the operator switched WeChat's setting first).
https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html

>>> push_format(None, b'  {"ToUserName": "gh_1"}'), push_format("text/xml", b"<xml/>")
('json', 'xml')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from paydesk.domain.errors import InvalidInput, NotFound, Unauthenticated
from paydesk.domain.registry import Registry
from paydesk.protocol.errors import (
    DecryptError,
    KeyFormatError,
    MalformedInput,
    SignatureError,
)
from paydesk.protocol.messages import (
    MessageCrypto,
    PushedMessage,
    PushFormat,
    check_push_signature,
    extract_encrypt,
    parse_push,
)
from paydesk.settings import AppConfig

__all__ = ["MAX_PUSH_BYTES", "PushQuery", "check_server", "open_push", "push_app", "push_format"]

#: The largest push body accepted; WeChat's pushes are a few hundred bytes.
MAX_PUSH_BYTES = 32 * 1024


@dataclass(frozen=True)
class PushQuery:
    """The query string WeChat signs a push with."""

    signature: str
    timestamp: str
    nonce: str
    encrypt_type: str | None = None
    msg_signature: str | None = None


def push_app(registry: Registry, appid: str) -> AppConfig:
    """The configured app ``appid``, if it takes pushes (has a push token); NotFound otherwise."""
    app = registry.app(appid)
    if app.push_token is None:
        raise NotFound("push_not_configured", f"app {appid} has no push_token configured")
    return app


def _token(app: AppConfig) -> str:
    return app.push_token.get_secret_value() if app.push_token is not None else ""


def _check_fresh(timestamp: str, *, now: datetime, tolerance: int) -> None:
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise InvalidInput("malformed_push", "timestamp must be Unix seconds")
    if abs(now.timestamp() - int(timestamp)) > tolerance:
        raise Unauthenticated("stale_push", f"push timestamp is more than {tolerance} s off")


def _check_signature(app: AppConfig, query: PushQuery, *, encrypt: str | None = None) -> None:
    signature = query.signature if encrypt is None else query.msg_signature or ""
    try:
        check_push_signature(
            token=_token(app),
            timestamp=query.timestamp,
            nonce=query.nonce,
            signature=signature,
            encrypt=encrypt,
        )
    except SignatureError as exc:
        raise Unauthenticated("bad_push_signature", f"push {exc.reason}") from exc


def check_server(
    app: AppConfig, query: PushQuery, echostr: str, *, now: datetime, tolerance: int
) -> str:
    """WeChat's server check (``GET ?signature&timestamp&nonce&echostr``): ``echostr`` when the
    signature holds, Unauthenticated otherwise."""
    _check_fresh(query.timestamp, now=now, tolerance=tolerance)
    _check_signature(app, query)
    return echostr


def push_format(content_type: str | None, body: bytes) -> PushFormat:
    """XML or JSON: the body's first character decides, ``Content-Type`` when it cannot."""
    first = body.lstrip()[:1]
    if first == b"<":
        return "xml"
    if first == b"{":
        return "json"
    kind = (content_type or "").partition(";")[0].strip().lower()
    if kind.endswith("json"):
        return "json"
    if kind.endswith("xml"):
        return "xml"
    raise InvalidInput("malformed_push", "a push body is XML or JSON")


def _crypto(app: AppConfig) -> MessageCrypto:
    if app.encoding_aes_key is None:
        raise InvalidInput(
            "push_encrypted", f"app {app.appid} got an encrypted push but has no encoding_aes_key"
        )
    try:
        return MessageCrypto(_token(app), app.encoding_aes_key.get_secret_value(), app.appid)
    except KeyFormatError as exc:
        raise InvalidInput("push_key_invalid", f"app {app.appid}: {exc.reason}") from exc


def _parse(body: bytes, fmt: PushFormat) -> PushedMessage:
    try:
        return parse_push(body, fmt, max_bytes=MAX_PUSH_BYTES)
    except MalformedInput as exc:
        raise InvalidInput("malformed_push", exc.reason) from exc


def _open_encrypted(app: AppConfig, query: PushQuery, body: bytes, fmt: PushFormat) -> bytes:
    if not query.msg_signature:
        raise Unauthenticated("bad_push_signature", "an encrypted push needs msg_signature")
    crypto = _crypto(app)
    try:
        encrypt = extract_encrypt(body, fmt, max_bytes=MAX_PUSH_BYTES)
    except MalformedInput as exc:
        raise InvalidInput("malformed_push", exc.reason) from exc
    _check_signature(app, query, encrypt=encrypt)
    try:
        return crypto.decrypt(encrypt)
    except DecryptError as exc:
        # The signature held, so WeChat sent this: our EncodingAESKey (or appid) is wrong.
        raise InvalidInput("undecryptable_push", exc.reason) from exc


def open_push(
    app: AppConfig,
    query: PushQuery,
    body: bytes,
    content_type: str | None,
    *,
    now: datetime,
    tolerance: int,
) -> PushedMessage:
    """The message of a push to ``app``, after its signature (see the module docstring)."""
    _check_fresh(query.timestamp, now=now, tolerance=tolerance)
    fmt = push_format(content_type, body)
    if query.encrypt_type is not None:
        if query.encrypt_type != "aes":
            raise InvalidInput("malformed_push", f"encrypt_type {query.encrypt_type!r} is unknown")
        message = _parse(_open_encrypted(app, query, body, fmt), fmt)
    else:
        if app.push_mode != "plain":
            raise Unauthenticated(
                "push_not_encrypted",
                f"app {app.appid} takes {app.push_mode}-mode pushes only; this one is plain",
            )
        _check_signature(app, query)
        message = _parse(body, fmt)
    if app.original_id is not None and message.to_user != app.original_id:
        raise InvalidInput("push_wrong_app", f"this push is for {message.to_user}, not this app")
    return message
