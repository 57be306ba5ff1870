"""A Pay v2 notification, from raw bytes to a stored verdict (PROTOCOL.md §2.3).

v2 signs *inside* the XML, so reading the fields comes first — with the hardened parser (size
cap, no DTD or entities) and nothing else. A body with ``req_info`` is a refund: it has no
``sign``, and decrypting ``req_info`` under the merchant's APIv2 key is its only
authentication. Any other body is a payment, verified with the APIv2 key and the sign type
*pinned* by the merchant's config (a body naming another ``sign_type`` is refused). v2 has no
timestamp: a replayed notification verifies forever, so applying it twice must change nothing
— which :func:`~paydesk.domain.payments.settle.settle` guarantees.

Event ids: v2 has none, so the stored ``event_id`` is WeChat's ``transaction_id`` (payments)
or ``refund_id`` (refunds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from paydesk.db.enums import ApiVersion, NotificationKind
from paydesk.domain.notifications.apply import apply_payment, apply_refund
from paydesk.domain.notifications.receipts import Receipt, Verdict
from paydesk.domain.notifications.records import (
    EXCERPT_BYTES,
    Inbound,
    kept_headers,
    store_verdict,
)
from paydesk.domain.notifications.v3 import unknown_merchant
from paydesk.domain.payments.reports import from_v2_notification
from paydesk.domain.refunds import report_from_v2
from paydesk.protocol.errors import DecryptError, InputTooLarge, MalformedInput, SignatureError
from paydesk.protocol.v2.codec import parse_v2_fields
from paydesk.protocol.v2.notify import parse_payment_notification, parse_refund_notification
from paydesk.protocol.v3.notify import MAX_NOTIFICATION_BYTES

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["receive_v2"]


async def receive_v2(
    services: Services,
    mchid: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt:
    """Verify (or decrypt), check and apply one v2 notification; always a stored verdict.

    Database errors propagate (the caller answers 5xx, so WeChat sends it again).
    """
    account = services.wechat.merchants.get(mchid)
    if account is None or account.v2_key is None:
        return unknown_merchant(mchid, "v2")
    key = account.v2_key
    inbound = Inbound(mchid, ApiVersion.V2, kept_headers(headers), body, services.clock.now())
    try:
        fields = parse_v2_fields(body, max_bytes=MAX_NOTIFICATION_BYTES)
    except InputTooLarge as exc:
        return await store_verdict(
            services, inbound, Verdict.REJECTED_TOO_LARGE, exc.reason, body_limit=EXCERPT_BYTES
        )
    except MalformedInput as exc:  # HostileXML included: refused unread
        return await store_verdict(services, inbound, Verdict.REJECTED_MALFORMED, exc.reason)
    if "req_info" in fields:
        kind = NotificationKind.REFUND
        try:
            refund = parse_refund_notification(body, key=key, max_bytes=MAX_NOTIFICATION_BYTES)
            refund_report = report_from_v2(refund)
        except DecryptError as exc:
            return await store_verdict(
                services, inbound, Verdict.REJECTED_DECRYPT, exc.reason, kind=kind
            )
        except MalformedInput as exc:
            return await store_verdict(
                services, inbound, Verdict.REJECTED_MALFORMED, exc.reason, kind=kind
            )
        return await apply_refund(services, inbound, refund_report, event_id=refund.refund_id)
    kind = NotificationKind.PAYMENT
    try:
        payment = parse_payment_notification(
            body, key=key, sign_type=account.v2_sign_type, max_bytes=MAX_NOTIFICATION_BYTES
        )
    except SignatureError as exc:
        return await store_verdict(
            services, inbound, Verdict.REJECTED_SIGNATURE, exc.reason, kind=kind
        )
    except MalformedInput as exc:  # verified, but a field we need is missing or wrong
        return await store_verdict(
            services, inbound, Verdict.REJECTED_MALFORMED, exc.reason, kind=kind
        )
    report = from_v2_notification(payment)
    return await apply_payment(services, inbound, report, event_id=payment.transaction_id)
