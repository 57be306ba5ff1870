"""Refunding a paid order, and reading refunds back.

:func:`request_refund` is three short steps, and no transaction is open while WeChat is asked:

1. **reserve** — one transaction: the amount is reserved on the order by a conditional UPDATE
   and the PENDING refund is inserted with its ``order_events`` row (``reserve.py``);
2. **ask** — WeChat (v3 or v2, per the order's ``api_version``) is asked to refund, under the
   PAID attempt's trade number;
3. **record** — one transaction: WeChat's answer is settled (``settle.py``): usually
   PENDING → PROCESSING; a definitive refusal closes the refund and gives the reservation back;
   a lost answer or a "try later" leaves it PENDING, to be resubmitted *with the same
   out_refund_no* by :func:`~paydesk.domain.refunds.retry.retry_pending_refunds`.

The refund exists from step 1 on, whatever WeChat answers, so the caller always gets it back
(never an error that would tempt a merchant to ask again and refund twice) — even when the
database stops answering after step 1: the refund is then returned as reserved, PENDING.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import ApiVersion, RefundState
from paydesk.db.errors import DATABASE_UNAVAILABLE
from paydesk.db.models import Order, Payment, Refund
from paydesk.domain.errors import NotFound
from paydesk.domain.refunds import remote
from paydesk.domain.refunds.reports import RefundReport
from paydesk.domain.refunds.reserve import reserve_refund
from paydesk.domain.refunds.settle import RefundOutcome, settle_refund

if TYPE_CHECKING:
    from paydesk.domain.context import Services

log = logging.getLogger(__name__)

#: States in which WeChat may still change the refund.
OPEN_STATES = (RefundState.PENDING, RefundState.PROCESSING, RefundState.ABNORMAL)

__all__ = [
    "OPEN_STATES",
    "get_refund",
    "list_refunds",
    "record_attempt",
    "refund_ask",
    "request_refund",
]


async def request_refund(
    services: Services,
    order_id: str,
    *,
    amount: int,
    reason: str | None = None,
    out_refund_no: str | None = None,
    mchid: str | None = None,
    cause: str = "api.refund",
) -> Refund:
    """Refund ``amount`` fen of a paid order (see the module docstring); returns the refund."""
    async with services.db.begin() as session:
        refund = await reserve_refund(
            session,
            order_id=order_id,
            amount=amount,
            reason=reason,
            out_refund_no=out_refund_no,
            mchid=mchid,
            cause=cause,
            now=services.clock.now(),
            ids=services.ids,
        )
        ask = await refund_ask(services, session, refund)
    attempt = await remote.submit(services, ask)
    try:
        async with services.db.begin() as session:
            await record_attempt(
                services, session, refund.id, ask, attempt, cause=cause, may_close=True
            )
        async with services.db() as session:
            return await get_refund(session, refund.id)
    except DATABASE_UNAVAILABLE:
        # WeChat may hold the refund by now: an error would tell the merchant to ask again,
        # and a second request is a second refund. It is answered as reserved (PENDING);
        # retry_pending_refunds resubmits it under the same out_refund_no and settles it.
        log.warning("refund %s: WeChat's answer not recorded (database unavailable)", refund.id)
        return refund


async def refund_ask(services: Services, session: AsyncSession, refund: Refund) -> remote.RefundAsk:
    """The WeChat request for ``refund``, from stored rows only (so every retry is identical)."""
    order = (await session.scalars(select(Order).where(Order.id == refund.order_id))).one()
    # The attempt being refunded: an automatic refund names its anomalous attempt; any other
    # refunds the attempt the order was paid with (a refundable order always has one).
    chosen = (
        Payment.id == refund.payment_id
        if refund.payment_id is not None
        else (
            Payment.transaction_id.is_not(None) & (Payment.transaction_id == order.transaction_id)
        )
    )
    paid = await session.scalar(select(Payment).where(Payment.order_id == order.id, chosen))
    version = ApiVersion(
        (paid.api_version if paid is not None else None)
        or order.api_version
        or services.registry.merchant(order.mchid).api_version
    )
    return remote.RefundAsk(
        mchid=order.mchid,
        api_version=version,
        appid=paid.appid if paid is not None else order.appid,
        out_trade_no=paid.out_trade_no if paid is not None else order.out_trade_no,
        out_refund_no=refund.out_refund_no,
        amount=refund.amount,
        total=order.amount,
        reason=refund.reason,
        notify_url=services.registry.notify_url(order.mchid, version.value),
    )


async def record_attempt(
    services: Services,
    session: AsyncSession,
    refund_id: str,
    ask: remote.RefundAsk,
    attempt: remote.Attempt,
    *,
    cause: str,
    may_close: bool,
) -> RefundOutcome | None:
    """Settle an answer, or note why there was none, in the caller's transaction.

    A definitive refusal closes the refund (giving its reservation back) only when
    ``may_close``: for a PENDING refund, never for one WeChat accepted. Returns what settling
    did, or ``None`` when there was nothing to settle.
    """
    now = services.clock.now()
    if isinstance(attempt, remote.Answered):
        settled = await settle_refund(
            session, attempt.report, cause=cause, now=now, ids=services.ids
        )
        return settled.outcome
    error = f"{attempt.code}: {attempt.message}"[:1000]
    await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.state.in_(OPEN_STATES))
        .values(last_error=error, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if isinstance(attempt, remote.Refused) and may_close:
        closed = RefundReport(mchid=ask.mchid, out_refund_no=ask.out_refund_no, status="CLOSED")
        settled = await settle_refund(
            session, closed, cause=f"{cause}.refused", now=now, ids=services.ids
        )
        return settled.outcome
    return None


async def get_refund(session: AsyncSession, refund_id: str, *, mchid: str | None = None) -> Refund:
    """One refund; NotFound if absent or outside the caller's merchant scope."""
    query = select(Refund).where(Refund.id == refund_id)
    if mchid is not None:
        query = query.join(Order, Order.id == Refund.order_id).where(Order.mchid == mchid)
    refund = await session.scalar(query.execution_options(populate_existing=True))
    if refund is None:
        raise NotFound("refund_not_found", f"no refund {refund_id}")
    return refund


async def list_refunds(
    session: AsyncSession,
    *,
    mchid: str | None = None,
    order_id: str | None = None,
    state: RefundState | None = None,
    starting_after: str | None = None,
    limit: int = 20,
) -> tuple[list[Refund], bool]:
    """Newest first; cursor ``starting_after`` is a refund id (ids sort by creation time).

    Returns the page and whether there are more.
    """
    query = select(Refund).order_by(Refund.id.desc()).limit(limit + 1)
    if mchid is not None:
        query = query.join(Order, Order.id == Refund.order_id).where(Order.mchid == mchid)
    if order_id is not None:
        query = query.where(Refund.order_id == order_id)
    if state is not None:
        query = query.where(Refund.state == state)
    if starting_after is not None:
        query = query.where(Refund.id < starting_after)
    rows = list((await session.scalars(query)).all())
    return rows[:limit], len(rows) > limit
