"""Keeping every delivery: the raw body and the headers worth keeping, with its verdict.

A notification row must be replayable (the exact body and the ``Wechatpay-*`` headers) and
must never hold a secret, so headers are kept by name from a short allow-list: anything else
a sender adds (``Authorization``, ``Cookie``, …) is dropped. Text is stored as received except
for NUL characters, which PostgreSQL's text and JSONB types refuse::

    >>> kept_headers({"Wechatpay-Serial": "PUB_KEY_ID_1", "Cookie": "sid=1"})
    {'wechatpay-serial': 'PUB_KEY_ID_1'}
    >>> clean_text("a\\x00b")
    'a\\ufffdb'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from paydesk.db.enums import ApiVersion, NotificationKind
from paydesk.db.models import Notification
from paydesk.domain.notifications.receipts import VERDICT_LENGTH, Receipt, status_for
from paydesk.domain.payments.settle import TradeReport
from paydesk.domain.refunds import RefundReport

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = [
    "EXCERPT_BYTES",
    "KEPT_HEADERS",
    "Inbound",
    "clean_text",
    "kept_headers",
    "notification_values",
    "payment_detail",
    "payment_notification",
    "refund_notification",
    "store_verdict",
]

#: Headers kept with a notification (lower case): WeChat's own, and facts about the transport.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "user-agent",
        "request-id",
        "wechatpay-timestamp",
        "wechatpay-nonce",
        "wechatpay-signature",
        "wechatpay-serial",
        "wechatpay-signature-type",
        "x-forwarded-for",
        "x-real-ip",
    }
)
#: How much of a body refused as too large is kept (the rest was never going to be read).
EXCERPT_BYTES = 1024
_MAX_HEADER_CHARS = 1024
_EVENT_ID_LENGTH = 64


def clean_text(text: str) -> str:
    """``text`` with NUL characters replaced, so both databases accept it."""
    return text.replace("\x00", "\ufffd")


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed headers, lower-cased, each value capped at 1024 characters."""
    return {
        name.lower(): clean_text(value[:_MAX_HEADER_CHARS])
        for name, value in headers.items()
        if name.lower() in KEPT_HEADERS
    }


@dataclass(frozen=True)
class Inbound:
    """One delivery as it arrived: the merchant its URL names, the API, headers and raw body.

    >>> from datetime import datetime, timezone
    >>> when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> Inbound("1900000001", ApiVersion.V3, {}, b"{}", when).body_text()
    '{}'
    """

    mchid: str
    api_version: ApiVersion
    headers: dict[str, str]
    body: bytes
    received_at: datetime

    def body_text(self, limit: int | None = None) -> str:
        """The body as text (undecodable bytes replaced), the first ``limit`` bytes if given."""
        raw = self.body if limit is None else self.body[:limit]
        return clean_text(raw.decode("utf-8", "replace"))


def notification_values(
    inbound: Inbound,
    *,
    kind: NotificationKind,
    verdict: str,
    detail: str,
    event_id: str | None = None,
    order_id: str | None = None,
    body_limit: int | None = None,
) -> dict[str, Any]:
    """The column values of the ``notifications`` row for ``inbound``, all but its id."""
    return {
        "received_at": inbound.received_at,
        "mchid": inbound.mchid,
        "api_version": inbound.api_version,
        "kind": kind,
        "event_id": clean_text(event_id[:_EVENT_ID_LENGTH]) if event_id else None,
        "headers": inbound.headers,
        "body": inbound.body_text(body_limit),
        "verdict": verdict[:VERDICT_LENGTH],
        "detail": clean_text(detail),
        "order_id": order_id,
    }


def payment_detail(report: TradeReport, verdict: str) -> str:
    """The stored ``detail`` of a payment notification: what it said, and what we made of it."""
    return (
        f"{report.trade_state} for {report.out_trade_no}"
        f" (transaction {report.transaction_id}, {report.total} fen): {verdict}"
    )


def payment_notification(
    inbound: Inbound,
    report: TradeReport,
    verdict: str,
    *,
    event_id: str | None,
    order_id: str | None,
) -> Notification:
    """The ``notifications`` row of a verified payment notification (not yet added)."""
    return Notification(
        **notification_values(
            inbound,
            kind=NotificationKind.PAYMENT,
            verdict=verdict,
            detail=payment_detail(report, verdict),
            event_id=event_id,
            order_id=order_id,
        )
    )


def refund_notification(
    inbound: Inbound,
    report: RefundReport,
    verdict: str,
    *,
    event_id: str | None,
    order_id: str | None,
) -> Notification:
    """The ``notifications`` row of a verified refund notification (not yet added)."""
    detail = (
        f"{report.status} for refund {report.out_refund_no}"
        f" (WeChat {report.refund_id}, {report.refund} of {report.total} fen): {verdict}"
    )
    return Notification(
        **notification_values(
            inbound,
            kind=NotificationKind.REFUND,
            verdict=verdict,
            detail=detail,
            event_id=event_id,
            order_id=order_id,
        )
    )


async def store_verdict(
    services: Services,
    inbound: Inbound,
    verdict: str,
    reason: str,
    *,
    kind: NotificationKind = NotificationKind.UNKNOWN,
    event_id: str | None = None,
    body_limit: int | None = None,
) -> Receipt:
    """Store a delivery whose verdict is all there is to it — a refusal, or a verified event
    paydesk does not act on — in a transaction of its own; nothing else is written."""
    row = Notification(
        **notification_values(
            inbound,
            kind=kind,
            verdict=verdict,
            detail=reason,
            event_id=event_id,
            body_limit=body_limit,
        )
    )
    async with services.db.begin() as session:
        session.add(row)
    return Receipt(verdict, status_for(verdict), reason, row.id)
