"""The refund sweep: ask again about every refund WeChat has not settled — with the SAME number.

:func:`retry_pending_refunds` is meant to run every minute or so (the workers schedule it).
Each open refund is due ``retry_delay(attempts)`` after it was last touched — one minute, then
two, four… at most an hour — which is WeChat's own advice for polling a refund: "申请退款后间隔
1分钟调用该接口轮询一次退款状态，若超过5分钟仍是退款处理中状态，建议开始逐步衰减轮询频率"
(https://pay.weixin.qq.com/doc/v3/merchant/4013071031). What it does per state:

* **PENDING** (never accepted, or the answer was lost): the refund is *resubmitted* with the
  same ``out_refund_no`` and the same parameters. WeChat's rule is "一笔退款失败后重新提交，请不要
  更换退款单号" and "同一退款单号多次请求只退一笔": a resubmission of a refund it already has
  returns that refund rather than making a second. Should a resubmission be refused for good,
  WeChat is queried first — if it knows the refund (an earlier submission got through), that
  answer is settled; only otherwise is the refund closed and its reservation given back.
* **PROCESSING**: WeChat is queried (v3 ``GET /v3/refund/domestic/refunds/{out_refund_no}``,
  v2 ``/pay/refundquery``) and the answer settled — the road when a notification is lost.
* **ABNORMAL** (v2 ``CHANGE``: the payer's card was cancelled or frozen): WeChat keeps the
  money in its refund account; the refund is resolved by the merchant on the merchant platform
  or with ``POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund`` (same
  ``out_refund_no``; to the payer's bank card or to the merchant's bank account — a choice a
  person makes, so paydesk never calls it by itself: the merchant does, with
  ``POST /api/v1/refunds/{id}/apply-abnormal-refund``, ``refunds/abnormal.py``). The sweep resubmits
  under the same number, which is harmless and returns WeChat's current word, and settles it:
  once resolved, ABNORMAL → SUCCESS (or PROCESSING). The reservation stays all the while.

Several workers may sweep at once: a refund is claimed by a compare-and-set on
``(state, attempts)`` that also counts the attempt, so only one of them asks WeChat per round.
No transaction is open while WeChat is asked.

>>> [retry_delay(n, timedelta(minutes=1)).total_seconds() for n in (1, 2, 3, 9)]
[60.0, 120.0, 240.0, 3600.0]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from paydesk.db.enums import RefundState
from paydesk.db.models import Refund
from paydesk.domain.errors import DomainError
from paydesk.domain.refunds import remote
from paydesk.domain.refunds.service import OPEN_STATES, get_refund, record_attempt, refund_ask
from paydesk.domain.refunds.settle import RefundOutcome

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["MAX_DELAY", "RetryRound", "retry_delay", "retry_pending_refunds"]

#: The longest wait between two tries of one refund.
MAX_DELAY = timedelta(hours=1)


def retry_delay(attempts: int, base: timedelta) -> timedelta:
    """How long after its last try a refund tried ``attempts`` times is due again."""
    if base <= timedelta(0):
        return timedelta(0)
    delay: timedelta = base * 2 ** min(max(attempts - 1, 0), 20)
    return min(delay, MAX_DELAY)


@dataclass(frozen=True)
class RetryRound:
    """What one sweep did: refunds tried, by what was done, and what came of it."""

    resubmitted: int = 0
    queried: int = 0
    #: settle outcomes (``changed``, ``duplicate``, ``stale``…) and ``no_answer`` / ``error``
    results: Counter[str] = field(default_factory=Counter)


async def retry_pending_refunds(
    services: Services, *, base_delay: timedelta = timedelta(minutes=1), limit: int = 100
) -> RetryRound:
    """Resubmit PENDING and ABNORMAL refunds, query PROCESSING ones, settle every answer."""
    now = services.clock.now()
    async with services.db() as session:
        candidates = (
            await session.execute(
                select(Refund.id, Refund.state, Refund.attempts, Refund.updated_at)
                .where(Refund.state.in_(OPEN_STATES), Refund.updated_at <= now - base_delay)
                .order_by(Refund.updated_at)
                .limit(limit)
            )
        ).all()
    resubmitted = queried = 0
    results: Counter[str] = Counter()
    for refund_id, state, attempts, touched in candidates:
        if touched + retry_delay(attempts, base_delay) > now:
            continue
        if not await _claim(services, refund_id, RefundState(state), attempts):
            continue
        if state == RefundState.PROCESSING:
            queried += 1
        else:
            resubmitted += 1
        try:
            results[await _retry_one(services, refund_id, RefundState(state))] += 1
        except DomainError:
            results["error"] += 1  # e.g. the merchant was removed from the config
    return RetryRound(resubmitted, queried, results)


async def _claim(services: Services, refund_id: str, state: RefundState, attempts: int) -> bool:
    async with services.db.begin() as session:
        claimed = await session.execute(
            update(Refund)
            .where(Refund.id == refund_id, Refund.state == state, Refund.attempts == attempts)
            .values(attempts=attempts + 1, updated_at=services.clock.now())
            .execution_options(synchronize_session=False)
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def _retry_one(services: Services, refund_id: str, state: RefundState) -> str:
    async with services.db() as session:
        ask = await refund_ask(services, session, await get_refund(session, refund_id))
    if state == RefundState.PROCESSING:
        attempt = await remote.query(services, ask)
        cause = "retry.query"
    else:
        attempt = await remote.submit(services, ask)
        cause = "retry.submit"
        if isinstance(attempt, remote.Refused):
            known = await remote.query(services, ask)
            if isinstance(known, remote.Answered):
                attempt, cause = known, "retry.query"
    async with services.db.begin() as session:
        outcome = await record_attempt(
            services,
            session,
            refund_id,
            ask,
            attempt,
            cause=cause,
            may_close=state == RefundState.PENDING,
        )
    if outcome is None:
        return "no_answer"
    return RefundOutcome(outcome).value
