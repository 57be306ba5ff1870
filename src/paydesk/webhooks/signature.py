"""Sign and verify paydesk's webhook requests: ``Paydesk-Signature: t=<unix>,v1=<hex>``.

Each ``v1`` is ``HMAC-SHA256(secret, "<t>.<body>")`` in lowercase hex, one per active secret of
the endpoint (two while a secret is being rotated). The receiver checks the timestamp window,
compares in constant time against every ``v1`` and parses the JSON only once a signature holds::

    >>> body = b'{"id":"evt_1","type":"order.paid","created":1714536000,"data":{}}'
    >>> header = sign(body, ["whsec_test"], timestamp=1714536000)
    >>> header[:42]
    't=1714536000,v1=37c2c7549c4ba037bf6e5ccd00'
    >>> verify(body, header, "whsec_test", now=1714536060)["type"]
    'order.paid'

Standard library only, so a merchant's own Python code can ``from paydesk.webhooks import
verify`` without the rest of paydesk. Recipes for other languages: docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "WebhookVerificationError",
    "compute_signature",
    "sign",
    "verify",
]

#: The request header that carries the signature.
SIGNATURE_HEADER = "Paydesk-Signature"
#: Seconds a signed timestamp may lie behind *or ahead of* the receiver's clock.
DEFAULT_TOLERANCE = 300

_SCHEME = "v1"
_HEX_DIGEST_LENGTH = 64


class WebhookVerificationError(ValueError):
    """Base class: a webhook request must be refused. Carries the evidence.

    ``header`` is the ``Paydesk-Signature`` value as received and ``payload`` the body bytes,
    so a log line can show exactly what arrived.

    >>> err = WebhookSignatureError("no v1 signature matches", header="t=1", payload=b"{}")
    >>> (str(err), err.header, err.payload)
    ('no v1 signature matches', 't=1', b'{}')
    """

    def __init__(self, reason: str, *, header: str, payload: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.header = header
        self.payload = payload


class WebhookSignatureError(WebhookVerificationError):
    """The header is malformed, the timestamp is outside the window, or no ``v1`` matches."""


class WebhookPayloadError(WebhookVerificationError):
    """The signature holds but the body is not a JSON object (never sent by paydesk)."""


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` value: HMAC-SHA256 keyed by ``secret`` over ``b"<timestamp>.<payload>"``.

    >>> compute_signature(b"{}", "whsec_test", 1714536000)[:16]
    '39498163dee64702'
    """
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The ``Paydesk-Signature`` value for ``payload``: one ``v1=`` per secret, in order.

    >>> sign(b"{}", ["whsec_new", "whsec_old"], 1714536000).count(",v1=")
    2
    """
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    signatures = ",".join(f"{_SCHEME}={compute_signature(payload, s, timestamp)}" for s in secrets)
    return f"t={timestamp},{signatures}"


def _parse_header(header: str, payload: bytes) -> tuple[int, list[str]]:
    """``(timestamp, [v1 values])``; other schemes are ignored so new ones can be added."""

    def refuse(reason: str) -> WebhookSignatureError:
        return WebhookSignatureError(reason, header=header, payload=payload)

    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise refuse(f"malformed {SIGNATURE_HEADER} element {item.strip()!r}")
        if key == "t":
            timestamps.append(value)
        elif key == _SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        raise refuse(f"{SIGNATURE_HEADER} needs exactly one t=<unix seconds>")
    if not signatures:
        raise refuse(f"{SIGNATURE_HEADER} has no {_SCHEME}= signature")
    return int(timestamps[0]), signatures


def verify(
    payload: bytes | str,
    header: str,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: int | None = None,
) -> dict[str, Any]:
    """Check ``header`` against ``payload`` and ``secret``; return the event as a dict.

    ``payload`` must be the raw request body, byte for byte (read it before any framework
    parses it). ``now`` defaults to the system clock. Raises :class:`WebhookSignatureError`
    when the header is malformed, its timestamp is more than ``tolerance`` seconds away from
    ``now`` in either direction, or no ``v1`` matches.

    >>> verify(b"{}", sign(b"{}", ["whsec_a"], 1000), "whsec_b", now=1000)
    Traceback (most recent call last):
    ...
    paydesk.webhooks.signature.WebhookSignatureError: no v1 signature matches the payload
    """
    body = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    timestamp, signatures = _parse_header(header, body)
    current = int(time.time()) if now is None else now
    # Both directions: a future timestamp is as suspicious as an old one (stripe-python only
    # rejects old ones; see /work/shared/notes/reliability-and-security.md §2.3).
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"timestamp {timestamp} is more than {tolerance} s away from now ({current})",
            header=header,
            payload=body,
        )
    expected = compute_signature(body, secret, timestamp)
    # Compare against every v1 without stopping early: the result alone decides, not timing.
    matched = False
    for candidate in signatures:
        # compare_digest refuses non-ASCII str; a forged header must fail, not crash.
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    if not matched:
        raise WebhookSignatureError(
            "no v1 signature matches the payload", header=header, payload=body
        )
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise WebhookPayloadError("body is not valid JSON", header=header, payload=body) from exc
    if not isinstance(event, dict):
        raise WebhookPayloadError("body is not a JSON object", header=header, payload=body)
    return event
