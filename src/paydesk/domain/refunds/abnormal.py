"""An ABNORMAL refund paid out another way, when the merchant decides where the money goes.

A refund is ABNORMAL (v2: ``CHANGE``) when WeChat could not send the money back the way it came
— the payer's card was cancelled or frozen. WeChat keeps it in the merchant's refund account,
and the reservation stays on the order (docs/data-model.md). Where it goes instead is a choice
a person makes, so paydesk never makes it by itself (the refund sweep only asks WeChat again,
``refunds/retry.py``):

* ``USER_BANK_CARD``: to a debit card of the payer — bank, card number and the name on it,
  which the merchant got from the payer;
* ``MERCHANT_BANK_CARD``: to the merchant's own bank account; the merchant pays the payer back
  some other way.

:func:`apply_abnormal_refund` asks WeChat (Pay v3 ``apply-abnormal-refund``) and settles its
answer like any other: the refund moves ABNORMAL → PROCESSING, then SUCCESS arrives by
notification or by the sweep's query, announced as ``refund.succeeded``. Pay v2 has no such
API; a v2 merchant does it on the merchant platform, and the Conflict says so. The card
number and the name go to WeChat encrypted (the client's job) and are never stored or logged
by paydesk.

    refund = await apply_abnormal_refund(
        services, "rfd_01…", AbnormalPayout("MERCHANT_BANK_CARD"), mchid=key.mchid
    )
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paydesk import client
from paydesk.db.enums import ApiVersion, RefundState
from paydesk.db.models import Refund
from paydesk.domain.errors import Conflict
from paydesk.domain.payments.remote import upstream
from paydesk.domain.refunds import remote
from paydesk.domain.refunds.reports import report_from_v3
from paydesk.domain.refunds.service import get_refund, record_attempt, refund_ask
from paydesk.protocol.v3.models import AbnormalRefundTo

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["AbnormalPayout", "apply_abnormal_refund"]

CAUSE = "api.abnormal_refund"
MERCHANT_PLATFORM = "https://pay.weixin.qq.com"


@dataclass(frozen=True)
class AbnormalPayout:
    """Where an ABNORMAL refund's money goes; the card's details stay out of ``repr``.

    >>> AbnormalPayout("USER_BANK_CARD", "ICBC_DEBIT", "6222020200112345678", "张三")
    AbnormalPayout(to='USER_BANK_CARD', bank_type='ICBC_DEBIT')
    """

    to: AbnormalRefundTo
    bank_type: str | None = None
    bank_account: str | None = field(default=None, repr=False)
    real_name: str | None = field(default=None, repr=False)


async def apply_abnormal_refund(
    services: Services, refund_id: str, payout: AbnormalPayout, *, mchid: str | None = None
) -> Refund:
    """Pay ABNORMAL refund ``refund_id`` out as ``payout`` says; the refund as it is now."""
    async with services.db() as session:
        refund = await get_refund(session, refund_id, mchid=mchid)
        ask = await refund_ask(services, session, refund)
    state = RefundState(refund.state)
    if state != RefundState.ABNORMAL:
        raise Conflict(
            "refund_not_abnormal",
            f"refund {refund_id} is {state.value}; only an ABNORMAL refund can be paid out "
            "another way",
            state=state.value,
        )
    if ask.api_version != ApiVersion.V3:
        raise Conflict(
            "abnormal_refund_not_supported",
            f"merchant {ask.mchid} uses WeChat Pay {ask.api_version.value}, which has no API "
            f"for this: settle refund {refund.out_refund_no} on the merchant platform "
            f"({MERCHANT_PLATFORM}); paydesk will see the outcome",
        )
    if refund.refund_id is None:  # WeChat names the refund in every report, ABNORMAL included
        raise Conflict(
            "refund_id_unknown",
            f"WeChat's id of refund {refund.out_refund_no} is not known yet; try again after "
            "the refund sweep has asked WeChat about it",
        )
    attempt = await _ask_wechat(services, refund.refund_id, ask, payout)
    async with services.db.begin() as session:
        await record_attempt(
            services, session, refund.id, ask, attempt, cause=CAUSE, may_close=False
        )
    async with services.db() as session:
        return await get_refund(session, refund.id)


async def _ask_wechat(
    services: Services, wechat_refund_id: str, ask: remote.RefundAsk, payout: AbnormalPayout
) -> remote.Answered:
    try:
        answer = await services.wechat.pay_v3(ask.mchid).apply_abnormal_refund(
            wechat_refund_id,
            out_refund_no=ask.out_refund_no,
            to=payout.to,
            bank_type=payout.bank_type,
            bank_account=payout.bank_account,
            real_name=payout.real_name,
        )
    except client.WeChatError as exc:
        # The answer may be lost after WeChat took it, or an earlier request took it first:
        # if WeChat no longer calls the refund ABNORMAL, that is the answer to settle.
        known = await remote.query(services, ask)
        if isinstance(known, remote.Answered) and known.report.status != "ABNORMAL":
            return known
        raise upstream(exc) from exc
    return remote.Answered(report_from_v3(answer, mchid=ask.mchid))
