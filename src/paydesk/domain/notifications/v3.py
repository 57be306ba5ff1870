"""A Pay v3 notification, from raw bytes to a stored verdict (PROTOCOL.md §1.3, §1.8).

1. the merchant comes from the URL (unknown: refused, nothing stored);
2. the size cap, before anything is read;
3. the signature, with *that merchant's* keys picked by ``Wechatpay-Serial``, over the exact
   bytes received, with the timestamp within ±300 s of our clock — SIGNTEST probes, stale
   timestamps and bad signatures are refused (401) and stored, and nothing else happens;
4. only then the envelope is parsed and the resource decrypted with the APIv3 key;
5. ``TRANSACTION.*`` and ``REFUND.*`` are checked and settled (:func:`~.apply.apply_payment`,
   :func:`~.apply.apply_refund`); anything else is stored and acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from paydesk.db.enums import ApiVersion, NotificationKind
from paydesk.domain.notifications.apply import apply_payment, apply_refund
from paydesk.domain.notifications.receipts import Receipt, Verdict, status_for
from paydesk.domain.notifications.records import (
    EXCERPT_BYTES,
    Inbound,
    kept_headers,
    store_verdict,
)
from paydesk.domain.payments.reports import from_v3
from paydesk.domain.refunds import report_from_v3
from paydesk.protocol.errors import (
    DecryptError,
    MalformedInput,
    SignatureError,
    SignTestProbe,
    StaleTimestamp,
)
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.notify import MAX_NOTIFICATION_BYTES, open_notification
from paydesk.protocol.v3.verify import SignedHeaders

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["TOLERANCE_SECONDS", "receive_v3", "unknown_merchant"]

#: How far ``Wechatpay-Timestamp`` may be from our clock (PROTOCOL.md §1.3).
TOLERANCE_SECONDS = 300


@lru_cache(maxsize=64)
def _cipher(apiv3_key: str) -> Apiv3Cipher:
    # One AES-GCM context per merchant key, built once: decryption runs on every notification.
    return Apiv3Cipher(apiv3_key)


def unknown_merchant(mchid: str, api: str) -> Receipt:
    """The answer for a URL naming no merchant of ours (or none that takes ``api``)."""
    message = f"no merchant {mchid[:40]!r} takes {api} notifications here"
    return Receipt(Verdict.UNKNOWN_MERCHANT, status_for(Verdict.UNKNOWN_MERCHANT), message, None)


def _refusal(exc: SignatureError | DecryptError | MalformedInput) -> Verdict:
    if isinstance(exc, SignTestProbe):
        return Verdict.REJECTED_PROBE
    if isinstance(exc, StaleTimestamp):
        return Verdict.REJECTED_STALE
    if isinstance(exc, SignatureError):
        return Verdict.REJECTED_SIGNATURE
    if isinstance(exc, DecryptError):
        return Verdict.REJECTED_DECRYPT
    return Verdict.REJECTED_MALFORMED


async def receive_v3(
    services: Services,
    mchid: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt:
    """Verify, decrypt, check and apply one v3 notification; always a stored verdict.

    Database errors propagate (the caller answers 5xx, so WeChat sends it again).
    """
    account = services.wechat.merchants.get(mchid)
    if account is None:
        return unknown_merchant(mchid, "v3")
    inbound = Inbound(mchid, ApiVersion.V3, kept_headers(headers), body, services.clock.now())
    if len(body) > MAX_NOTIFICATION_BYTES:
        reason = f"body of {len(body)} bytes is over {MAX_NOTIFICATION_BYTES}"
        return await store_verdict(
            services, inbound, Verdict.REJECTED_TOO_LARGE, reason, body_limit=EXCERPT_BYTES
        )
    try:
        signed = SignedHeaders.from_headers(headers)
    except MalformedInput as exc:  # unsigned: a signature problem, not a body problem
        return await store_verdict(services, inbound, Verdict.REJECTED_SIGNATURE, exc.reason)
    try:
        opened = open_notification(
            signed,
            body,
            account.verify_keys,
            _cipher(account.apiv3_key),
            now=int(inbound.received_at.timestamp()),
            tolerance=TOLERANCE_SECONDS,
        )
    except (SignatureError, DecryptError, MalformedInput) as exc:
        return await store_verdict(services, inbound, _refusal(exc), exc.reason)
    # ---- verified from here on ----------------------------------------------------------
    event_id, event_type = opened.envelope.id, opened.event_type
    kind = NotificationKind.UNKNOWN
    try:
        if event_type.startswith("TRANSACTION."):
            kind = NotificationKind.PAYMENT
            report = from_v3(opened.transaction())
            return await apply_payment(services, inbound, report, event_id=event_id)
        if event_type.startswith("REFUND."):
            kind = NotificationKind.REFUND
            refund = report_from_v3(opened.refund())
            return await apply_refund(services, inbound, refund, event_id=event_id)
    except MalformedInput as exc:
        return await store_verdict(
            services,
            inbound,
            Verdict.REJECTED_MALFORMED,
            f"{event_type}: {exc.reason}",
            kind=kind,
            event_id=event_id,
        )
    return await _ignore(services, inbound, event_id, event_type)


async def _ignore(services: Services, inbound: Inbound, event_id: str, event_type: str) -> Receipt:
    detail = f"verified {event_type}: not an event paydesk acts on"
    return await store_verdict(services, inbound, Verdict.IGNORED, detail, event_id=event_id)
