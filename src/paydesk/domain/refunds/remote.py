"""What paydesk asks WeChat about one refund — submit or query, v3 or v2 — with errors sorted.

The request is built from stored rows only (order, the PAID attempt's trade number, the
refund), so every retry sends the same parameters under the same ``out_refund_no`` and WeChat
answers with the refund it already has instead of making a second one ("一笔退款失败后重新提交，
请不要更换退款单号，请使用原商户退款单号", refund API doc 4012791903; PROTOCOL.md §1.7).

Each call ends in one of three values, never in an exception from the client:

* :class:`Answered` — WeChat's word on the refund, as a ``RefundReport``;
* :class:`Refused` — WeChat said no for good (``PARAM_ERROR``, ``RESOURCE_NOT_EXISTS``,
  ``USER_ACCOUNT_ABNORMAL``…): a resubmission would get the same answer;
* :class:`NoAnswer` — the answer was lost, WeChat failed, or it asked us to come back
  (``SYSTEM_ERROR``, ``FREQUENCY_LIMITED``, ``NOT_ENOUGH``: the merchant's balance is short
  until topped up): try again later with the same number.

>>> sort_error(client.UpstreamUnavailable("busy", code="SYSTEM_ERROR"))
NoAnswer(code='SYSTEM_ERROR', message='busy')
>>> sort_error(client.NotFound("no order", code="RESOURCE_NOT_EXISTS"))
Refused(code='RESOURCE_NOT_EXISTS', message='no order')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from paydesk import client
from paydesk.db.enums import ApiVersion
from paydesk.domain.refunds.reports import (
    RefundReport,
    report_from_v2,
    report_from_v2_accepted,
    report_from_v3,
)
from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.models import RefundAmountRequest, RefundRequest

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = [
    "Answered",
    "Attempt",
    "NoAnswer",
    "RefundAsk",
    "Refused",
    "query",
    "sort_error",
    "submit",
]

#: Refusals that mean "later, same number": the merchant's balance is short (v3 ``NOT_ENOUGH``,
#: v2 ``NOTENOUGH``) until it is topped up. (A ``SIGN_ERROR`` is ours to fix, so also "later".)
RETRY_LATER_CODES = frozenset({"NOT_ENOUGH", "NOTENOUGH"})


@dataclass(frozen=True)
class RefundAsk:
    """Everything one refund request sends; equal asks are WeChat re-entries."""

    mchid: str
    api_version: ApiVersion
    appid: str
    out_trade_no: str
    out_refund_no: str
    amount: int  #: fen to refund
    total: int  #: the order's total, fen
    reason: str | None
    notify_url: str


@dataclass(frozen=True)
class Answered:
    """WeChat answered about the refund."""

    report: RefundReport


@dataclass(frozen=True)
class Refused:
    """WeChat refused the refund for good."""

    code: str
    message: str


@dataclass(frozen=True)
class NoAnswer:
    """No usable answer; ask again later under the same number."""

    code: str
    message: str


Attempt = Answered | Refused | NoAnswer


def sort_error(exc: client.WeChatError) -> Refused | NoAnswer:
    """Which of the two failures a client error is."""
    code = exc.code or type(exc).__name__
    definitive = (
        isinstance(exc, client.WeChatApiError)
        and not exc.retryable
        and not isinstance(exc, client.AuthenticationFailed)
        and code not in RETRY_LATER_CODES
    )
    return Refused(code, exc.message) if definitive else NoAnswer(code, exc.message)


async def submit(services: Services, ask: RefundAsk) -> Attempt:
    """Ask WeChat for the refund (again: same number, same parameters)."""
    try:
        if ask.api_version == ApiVersion.V3:
            request = RefundRequest(
                out_trade_no=ask.out_trade_no,
                out_refund_no=ask.out_refund_no,
                reason=ask.reason,
                notify_url=ask.notify_url,
                amount=RefundAmountRequest(refund=ask.amount, total=ask.total),
            )
            answer = await services.wechat.pay_v3(ask.mchid).refund(request)
            return Answered(report_from_v3(answer, mchid=ask.mchid))
        fields: dict[str, str | int | None] = {
            "appid": ask.appid,
            "out_trade_no": ask.out_trade_no,
            "out_refund_no": ask.out_refund_no,
            "total_fee": ask.total,
            "refund_fee": ask.amount,
            "refund_desc": ask.reason,
            "notify_url": ask.notify_url,
        }
        reply = await services.wechat.pay_v2(ask.mchid).refund(fields)
        return Answered(report_from_v2_accepted(reply, mchid=ask.mchid))
    except client.WeChatError as exc:
        return sort_error(exc)


async def query(services: Services, ask: RefundAsk) -> Attempt:
    """WeChat's current word on the refund. A query never refuses for good: "not found" for a
    refund WeChat accepted is a glitch to ask about again, not a verdict."""
    try:
        if ask.api_version == ApiVersion.V3:
            found = await services.wechat.pay_v3(ask.mchid).query_refund(ask.out_refund_no)
            return Answered(report_from_v3(found, mchid=ask.mchid))
        reply = await services.wechat.pay_v2(ask.mchid).refund_query(
            ask.appid, out_refund_no=ask.out_refund_no
        )
        for item in reply.refunds:
            if item.out_refund_no == ask.out_refund_no:
                report = report_from_v2(
                    item,
                    mchid=ask.mchid,
                    out_trade_no=reply.out_trade_no,
                    total=reply.total_fee,
                )
                return Answered(report)
        return NoAnswer("REFUNDNOTEXIST", "the refund query did not list this refund")
    except client.WeChatError as exc:
        failure = sort_error(exc)
        return NoAnswer(failure.code, failure.message)
    except MalformedInput as exc:
        return NoAnswer("MALFORMED", exc.reason)
