"""Verify paydesk's webhooks in your own Python code — standard library only.

>>> from paydesk.webhooks import sign, verify
>>> header = sign(b'{"id":"evt_1"}', ["whsec_test"], timestamp=1714536000)
>>> verify(b'{"id":"evt_1"}', header, "whsec_test", now=1714536000)
{'id': 'evt_1'}

In a web framework, hand ``verify`` the raw body and the ``Paydesk-Signature`` header, answer
2xx quickly, and dedupe on the event's ``id`` (delivery is at least once). See docs/webhooks.md.
"""

from __future__ import annotations

from paydesk.webhooks.signature import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    WebhookPayloadError,
    WebhookSignatureError,
    WebhookVerificationError,
    compute_signature,
    sign,
    verify,
)

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
