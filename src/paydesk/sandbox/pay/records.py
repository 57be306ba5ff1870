"""What the sandbox remembers about each notification it sends, and each attempt to send it.

One :class:`Delivery` per notification (event id, body, URL) — or per virtual-payment
``xpay_goods_deliver_notify`` push, which follows the same schedule; one :class:`Attempt` per HTTP
request made for it — ``real`` attempts, ``probe`` (``WECHATPAY/SIGNTEST/``) and
``duplicate`` ones — with virtual time, status, a response excerpt and the duration::

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> Attempt(number=1, kind="real", at=at, url="http://m/n", status=204).view()["status"]
    204
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from paydesk.sandbox.pay.retry import MAX_ATTEMPTS

__all__ = ["Attempt", "AttemptKind", "Delivery", "DeliveryApi", "DeliveryState", "Reseal", "Signer"]

AttemptKind = Literal["real", "probe", "duplicate"]
DeliveryState = Literal["pending", "held", "delivered", "failed"]
#: ``signer(body, probe)`` → the ``Wechatpay-*`` headers for one v3 attempt.
Signer = Callable[[bytes, bool], dict[str, str]]
#: ``reseal(number)`` → the URL (with its query) and body of real attempt ``number``: a push
#: is signed in its query with a timestamp the merchant checks, so each attempt is sealed anew.
Reseal = Callable[[int], tuple[str, bytes]]
#: Pay notifications (``v2``/``v3``), or an ``xpay`` push acknowledged by ``{"ErrCode": 0}``.
DeliveryApi = Literal["v2", "v3", "xpay"]


@dataclass
class Attempt:
    """One HTTP request made for a delivery."""

    number: int  #: the real attempt it belongs to (1 = the immediate one)
    kind: AttemptKind
    at: datetime  #: virtual time when it started
    url: str
    status: int | None = None
    acknowledged: bool = False
    excerpt: str = ""  #: the first 512 characters of the answer
    duration_ms: float = 0.0  #: wall milliseconds
    error: str | None = None
    fault: str | None = None

    def view(self) -> dict[str, Any]:
        """The attempt as JSON."""
        return {
            "number": self.number,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "url": self.url,
            "status": self.status,
            "acknowledged": self.acknowledged,
            "excerpt": self.excerpt,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "fault": self.fault,
        }


@dataclass
class Delivery:
    """One notification on its way to the merchant."""

    event_id: str
    event_type: str
    api: DeliveryApi
    mchid: str
    out_trade_no: str
    url: str
    body: bytes
    content_type: str
    signer: Signer | None
    created_at: datetime
    out_refund_no: str | None = None
    reseal: Reseal | None = None
    id: int = 0
    due_at: datetime | None = None
    state: DeliveryState = "pending"
    in_flight: bool = False
    probe_pending: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def real_attempts(self) -> int:
        """How many real attempts were made (dropped ones count: WeChat did send them)."""
        return sum(1 for a in self.attempts if a.kind == "real")

    def view(self, *, with_body: bool = False) -> dict[str, Any]:
        """The delivery and its attempts as JSON."""
        body: dict[str, Any] = {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "api": self.api,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "out_refund_no": self.out_refund_no,
            "url": self.url,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.due_at.isoformat() if self.due_at else None,
            "real_attempts": self.real_attempts,
            "max_attempts": MAX_ATTEMPTS,
            "notes": list(self.notes),
            "attempts": [a.view() for a in self.attempts],
        }
        if with_body:
            body["body"] = self.body.decode("utf-8", "replace")
        return body
