"""APIv3 notifications, both sides: open (merchant) and seal (sandbox) — PROTOCOL.md §1.8.

Opening follows the security rule "verify before parsing anything else": size cap, then the
signature over the raw body (:func:`~paydesk.protocol.v3.verify.verify_signed`), only then
the envelope JSON, then the AES-GCM ``resource``. The business object is validated on demand
by :meth:`OpenedNotification.transaction` or :meth:`OpenedNotification.refund`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.protocol.errors import InputTooLarge, MalformedInput
from paydesk.protocol.v3.aead import ALGORITHM, Apiv3Cipher
from paydesk.protocol.v3.models.base import parse_json
from paydesk.protocol.v3.models.notifications import NotificationEnvelope
from paydesk.protocol.v3.models.payments import Transaction
from paydesk.protocol.v3.models.refunds import RefundNotification
from paydesk.protocol.v3.verify import (
    SIGN_TEST_PREFIX,
    KeySet,
    SignedHeaders,
    sign_response,
    verify_signed,
)

__all__ = [
    "MAX_NOTIFICATION_BYTES",
    "RESOURCE_TYPE",
    "OpenedNotification",
    "open_notification",
    "seal_notification",
]

#: Default body-size cap. Real notifications are 1–3 KiB; anything near this is not WeChat.
MAX_NOTIFICATION_BYTES = 64 * 1024
#: The envelope's ``resource_type`` for every encrypted notification.
RESOURCE_TYPE = "encrypt-resource"


@dataclass(frozen=True, slots=True)
class OpenedNotification:
    """A verified, decrypted notification: the envelope, the resource plaintext and headers."""

    envelope: NotificationEnvelope
    plaintext: bytes
    signed: SignedHeaders

    @property
    def event_type(self) -> str:
        """``TRANSACTION.SUCCESS``, ``REFUND.SUCCESS``, ``REFUND.ABNORMAL``, …"""
        return self.envelope.event_type

    def _expect(self, original_type: str) -> None:
        actual = self.envelope.resource.original_type
        if actual != original_type:
            raise MalformedInput(
                f"resource is a {actual!r}, not a {original_type!r}", field="original_type"
            )

    def transaction(self) -> Transaction:
        """The payment inside (``original_type`` must be ``transaction``)."""
        self._expect("transaction")
        return parse_json(Transaction, self.plaintext)

    def refund(self) -> RefundNotification:
        """The refund inside (``original_type`` must be ``refund``)."""
        self._expect("refund")
        return parse_json(RefundNotification, self.plaintext)


def open_notification(
    headers: Mapping[str, str] | SignedHeaders,
    body: bytes,
    keys: KeySet,
    cipher: Apiv3Cipher,
    *,
    now: int,
    tolerance: int = 300,
    max_body: int = MAX_NOTIFICATION_BYTES,
) -> OpenedNotification:
    """Verify, parse and decrypt one notification exactly as received.

    ``body`` must be the raw request bytes (never a re-serialised model); ``headers`` the
    request's, or the :class:`SignedHeaders` already read from them. Raises
    :class:`InputTooLarge` over ``max_body``, any
    :class:`~paydesk.protocol.errors.SignatureError` from verification,
    :class:`MalformedInput` for a bad envelope and :class:`DecryptError` for the resource.
    """
    if len(body) > max_body:
        raise InputTooLarge(f"notification body of {len(body)} bytes exceeds {max_body}")
    signed = verify_signed(headers, body, keys, now=now, tolerance=tolerance)
    envelope = parse_json(NotificationEnvelope, body)
    resource = envelope.resource
    plaintext = cipher.decrypt(
        nonce=resource.nonce,
        associated_data=resource.associated_data,
        ciphertext=resource.ciphertext,
    )
    return OpenedNotification(envelope=envelope, plaintext=plaintext, signed=signed)


def seal_notification(
    *,
    event_id: str,
    create_time: str,
    event_type: str,
    summary: str,
    original_type: str,
    associated_data: str,
    resource_plaintext: bytes,
    cipher: Apiv3Cipher,
    resource_nonce: str,
    platform_key: RSAPrivateKey,
    serial: str,
    timestamp: int,
    sign_nonce: str,
    sign_test_probe: bool = False,
) -> tuple[dict[str, str], bytes]:
    """Build a notification as WeChat sends it: headers and the exact body bytes.

    With ``sign_test_probe=True`` the signature gets WeChat's ``WECHATPAY/SIGNTEST/`` prefix,
    so a correct merchant must refuse it.
    """
    envelope = {
        "id": event_id,
        "create_time": create_time,
        "resource_type": RESOURCE_TYPE,
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": ALGORITHM,
            "ciphertext": cipher.encrypt(
                nonce=resource_nonce,
                associated_data=associated_data,
                plaintext=resource_plaintext,
            ),
            "associated_data": associated_data,
            "nonce": resource_nonce,
        },
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    signed = sign_response(
        platform_key, serial=serial, timestamp=timestamp, nonce=sign_nonce, body=body
    )
    if sign_test_probe:
        signed["Wechatpay-Signature"] = SIGN_TEST_PREFIX + signed["Wechatpay-Signature"]
    return {"Content-Type": "application/json", **signed}, body
