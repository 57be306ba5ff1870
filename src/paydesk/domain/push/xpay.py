"""Answering virtual payment's ``xpay_goods_deliver_notify`` push — after its work, not before.

A customer-service message is answered ``success`` at once and worked on in the background
(:mod:`.worker`). This event is the opposite: it makes an order PAID, and WeChat sends it
again until it reads ``{"ErrCode": 0, "ErrMsg": "success"}`` (15s/15s/30s/3m/10m/20m/30m/30m/
30m/60m/3h/3h/3h/6h/6h). So it is applied first, in one transaction
(:func:`~paydesk.domain.payments.virtual_paid.apply_goods_deliver`), and answered after the
commit: ErrCode 0 for every verdict — applied, duplicate, or an anomaly recorded (a person
looks at it; WeChat sending it again would change nothing) — and, when the transaction
failed, a non-zero ErrCode with HTTP 503, so that WeChat retries and nothing is lost.

https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/virtual-payment.html

    answer = await answer_goods_deliver(services, app, message)
    answer.status, answer.body      # 200, b'{"ErrCode":0,"ErrMsg":"success"}'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paydesk.domain.errors import InvalidInput
from paydesk.domain.payments.virtual_paid import apply_goods_deliver
from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.messages import PushedMessage, parse_goods_deliver, xpay_answer
from paydesk.settings import AppConfig

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["RETRY_LATER", "XpayAnswer", "answer_goods_deliver", "still_applying"]

log = logging.getLogger("paydesk.push")

#: The ErrCode of "not applied, send it again" (any non-zero code makes WeChat retry).
RETRY_LATER = 1


@dataclass(frozen=True)
class XpayAnswer:
    """The HTTP status and JSON body to answer, and what was made of the event.

    >>> XpayAnswer(200, b'{"ErrCode":0,"ErrMsg":"success"}', "applied").acknowledged
    True
    """

    status: int
    body: bytes
    verdict: str

    @property
    def acknowledged(self) -> bool:
        """Whether WeChat stops sending the event."""
        return self.status == 200


async def answer_goods_deliver(
    services: Services, app: AppConfig, message: PushedMessage
) -> XpayAnswer:
    """Apply a verified goods-delivery push and say what to answer (module docstring).

    A push that is not a complete event is :class:`InvalidInput` (400: it was verified, so
    WeChat sent it — the log must show it).
    """
    try:
        event = parse_goods_deliver(message.raw)
    except MalformedInput as exc:
        raise InvalidInput("malformed_push", exc.reason) from exc
    where = f"xpay event {event.out_trade_no} for {app.appid} (retry {event.retry_times})"
    try:
        verdict = await apply_goods_deliver(services, app, event, message.raw)
    except Exception:
        # Nothing was committed (the database, most likely): WeChat must send it again.
        log.exception("%s not applied; answering ErrCode %d", where, RETRY_LATER)
        body = xpay_answer(RETRY_LATER, "not applied, please retry")
        return XpayAnswer(503, body, "failed")
    log.info("%s: %s", where, verdict)
    return XpayAnswer(200, xpay_answer(), verdict)


def still_applying() -> XpayAnswer:
    """The answer when the event is still being applied at the reply deadline: 503 and a
    non-zero ErrCode, so WeChat sends it again; the copy finds it applied (a duplicate,
    acknowledged) or applies it.

    >>> still_applying().acknowledged
    False
    """
    return XpayAnswer(503, xpay_answer(RETRY_LATER, "still being applied, please retry"), "late")
