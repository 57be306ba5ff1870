"""What paydesk made of one notification: its verdict, and the HTTP answer that verdict earns.

Every delivery ends as a :class:`Receipt`. Accepted verdicts are acknowledged (v3: 204, v2:
200 with the SUCCESS XML), so WeChat stops sending; rejected ones get a 4xx, so WeChat sends
again later and nothing of ours changed (PROTOCOL.md §1.8, §3)::

    >>> status_for(Verdict.REJECTED_PROBE), status_for(anomaly("amount_mismatch"))
    (401, 204)
    >>> verdict_for(Settled(Outcome.ANOMALY, anomaly="paid_after_close"))
    'anomaly:paid_after_close'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from paydesk.domain.payments.settle import Outcome, Settled

__all__ = [
    "VERDICT_LENGTH",
    "Receipt",
    "Verdict",
    "anomaly",
    "status_for",
    "verdict_for",
]

#: The width of ``notifications.verdict``; anything longer is cut to fit.
VERDICT_LENGTH = 32


class Verdict(StrEnum):
    """The fixed verdicts; an anomaly's verdict is ``anomaly:<kind>`` (:func:`anomaly`)."""

    APPLIED = "applied"  #: the order became PAID (or the refund moved)
    DUPLICATE = "duplicate"  #: already applied; nothing changed
    STALE = "stale"  #: older news than ours (a late refund state); nothing changed
    NOT_PAID = "not_paid"  #: verified, but WeChat does not report a success
    IGNORED = "ignored_event"  #: verified, of an event type paydesk does not act on
    REJECTED_SIGNATURE = "rejected_signature"  #: no, a wrong, or an unknown-key signature
    REJECTED_PROBE = "rejected_probe"  #: WeChat's ``WECHATPAY/SIGNTEST/`` probe
    REJECTED_STALE = "rejected_stale"  #: ``Wechatpay-Timestamp`` 300 s or more from now
    REJECTED_DECRYPT = "rejected_decrypt"  #: the resource / ``req_info`` does not decrypt
    REJECTED_MALFORMED = "rejected_malformed"  #: not a notification we can read
    REJECTED_TOO_LARGE = "rejected_too_large"  #: over the size cap, refused unread
    UNKNOWN_MERCHANT = "rejected_unknown_merchant"  #: the URL names no merchant of ours


_STATUS: dict[str, int] = {
    Verdict.REJECTED_SIGNATURE: 401,
    Verdict.REJECTED_PROBE: 401,
    Verdict.REJECTED_STALE: 401,
    Verdict.REJECTED_DECRYPT: 401,
    Verdict.REJECTED_MALFORMED: 400,
    Verdict.REJECTED_TOO_LARGE: 413,
    Verdict.UNKNOWN_MERCHANT: 404,
}
_BY_OUTCOME = {
    Outcome.PAID: Verdict.APPLIED,
    Outcome.DUPLICATE: Verdict.DUPLICATE,
    Outcome.NOT_PAID: Verdict.NOT_PAID,
}


def anomaly(kind: str) -> str:
    """The verdict of a notification that was verified but recorded as an anomaly.

    >>> anomaly("unknown_order")
    'anomaly:unknown_order'
    """
    return f"anomaly:{kind}"[:VERDICT_LENGTH]


def status_for(verdict: str) -> int:
    """The HTTP status a verdict is answered with: 204 for every accepted one.

    >>> status_for("duplicate"), status_for("rejected_malformed")
    (204, 400)
    """
    return _STATUS.get(verdict, 204)


def verdict_for(settled: Settled) -> str:
    """The verdict of what :func:`~paydesk.domain.payments.settle.settle` did.

    >>> verdict_for(Settled(Outcome.PAID))
    'applied'
    """
    known = _BY_OUTCOME.get(settled.outcome)
    if known is not None:
        return known.value
    return anomaly(settled.anomaly or settled.outcome.value)


@dataclass(frozen=True)
class Receipt:
    """The verdict on one delivery, the status to answer, and what was stored.

    ``notification_id`` is the ``notifications`` row (``None`` when nothing was stored: an
    unknown merchant); ``message`` is a short reason for the reply and the logs.

    >>> Receipt("applied", 204, "order PAID", 7).accepted
    True
    """

    verdict: str
    status: int
    message: str
    notification_id: int | None
    order_id: str | None = None

    @property
    def accepted(self) -> bool:
        """Whether WeChat gets its acknowledgement (and stops sending this one)."""
        return self.status < 300
