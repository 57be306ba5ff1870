"""Signed, expiring, purpose-bound tokens: cashier links, pay tickets, OAuth ``state``.

A token is ``<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, purpose + "." + payload))>``.
The purpose is signed but not sent, so a pay ticket can never be replayed as a cashier link::

    >>> from datetime import datetime, timedelta, timezone
    >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> later = now + timedelta(hours=1)
    >>> token = sign_token(b"k" * 32, "cashier", {"order": "ord_1"}, expires_at=later)
    >>> verify_token(b"k" * 32, "cashier", token, now=now)["order"]
    'ord_1'
    >>> verify_token(b"k" * 32, "cashier", token + "é", now=now)
    Traceback (most recent call last):
    ...
    paydesk.domain.errors.Unauthenticated: this cashier link is malformed
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from paydesk.domain.errors import Unauthenticated

MAX_TOKEN_LENGTH = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, body: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest())


def sign_token(
    secret: bytes, purpose: str, payload: dict[str, Any], *, expires_at: datetime
) -> str:
    """A token for ``purpose`` carrying ``payload`` until ``expires_at``."""
    body = _b64(
        json.dumps({**payload, "exp": int(expires_at.timestamp())}, separators=(",", ":")).encode()
    )
    return f"{body}.{_mac(secret, purpose, body)}"


def verify_token(secret: bytes, purpose: str, token: str, *, now: datetime) -> dict[str, Any]:
    """The payload of a valid, unexpired token for ``purpose``; Unauthenticated otherwise."""
    body, _, mac = token.partition(".")
    # ``token`` comes from a URL: anything non-ASCII is not ours, and compare_digest refuses it.
    if not body or not mac or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise Unauthenticated(f"invalid_{purpose}", f"this {purpose} link is malformed")
    if not hmac.compare_digest(mac, _mac(secret, purpose, body)):
        raise Unauthenticated(f"invalid_{purpose}", f"this {purpose} link is not ours")
    try:
        payload: dict[str, Any] = json.loads(_unb64(body))
    except (binascii.Error, ValueError) as exc:  # signed by us, so only a bug gets here
        raise Unauthenticated(f"invalid_{purpose}", f"this {purpose} link is malformed") from exc
    if not isinstance(payload.get("exp"), int) or payload["exp"] <= now.timestamp():
        raise Unauthenticated(f"expired_{purpose}", f"this {purpose} link has expired")
    return payload
