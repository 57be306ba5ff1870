"""Automatic refunds of anomalous payments: money WeChat took for an order we could not sell.

``settle()`` records two anomalies that mean the payer paid and got nothing for it:

* ``paid_after_close`` — an attempt of a CLOSED order was paid (the payer beat the close);
* ``double_payment`` — a second attempt of an order that is already paid was paid too.

In both, the attempt's ``payments`` row holds WeChat's ``transaction_id`` while the order's
``transaction_id`` is empty or another one. For a merchant configured with
``auto_refund_anomalies = true`` this sweep refunds THAT attempt in full:

1. one transaction inserts the refund (PENDING, ``payment_id`` = the attempt) with its
   ``order_events`` row (cause ``sweep.auto_refund``). Its ``out_refund_no`` is derived from
   the attempt's trade number, so the refund exists at most once however many workers race
   (the unique constraint decides) — and it is *not* reserved on the order: it returns money
   the order never counted, and it never moves the order;
2. WeChat is asked, outside any transaction, like any refund (``refunds.remote.submit``);
3. the answer is settled by ``settle_refund`` — which also writes ``refund.succeeded`` /
   ``refund.failed`` to the merchant once WeChat decides. A lost answer leaves the refund
   PENDING for ``retry_pending_refunds``, under the same number.

Other merchants keep the anomaly for a person (it was announced as ``anomaly.created``).

>>> automatic_out_refund_no("PD01KDVDNA000000000000000000")
'auto-PD01KDVDNA000000000000000000'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from paydesk.db.enums import OrderState, RefundState
from paydesk.db.models import Order, OrderEvent, Payment, Refund
from paydesk.domain.errors import DomainError
from paydesk.domain.refunds import remote
from paydesk.domain.refunds.service import record_attempt, refund_ask
from paydesk.domain.sweeps.rounds import SweepRound, gather_limited

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = [
    "AUTO_REFUND_CAUSE",
    "AnomalousPayment",
    "automatic_out_refund_no",
    "find_anomalous_payments",
    "refund_anomalous_payments",
]

AUTO_REFUND_CAUSE = "sweep.auto_refund"
#: Orders whose state says the attempt's money was not theirs to keep.
_SETTLED = (
    OrderState.CLOSED,
    OrderState.PAID,
    OrderState.PARTIALLY_REFUNDED,
    OrderState.REFUNDED,
)

log = logging.getLogger("paydesk.sweeps")


def automatic_out_refund_no(out_trade_no: str) -> str:
    """The one ``out_refund_no`` an attempt's automatic refund may have (≤ 37 characters)."""
    return f"auto-{out_trade_no}"


@dataclass(frozen=True)
class AnomalousPayment:
    """A paid attempt the order did not take: which, of which order, and why."""

    payment_id: str
    order_id: str
    out_trade_no: str
    amount: int  #: fen: the attempt's total, which ``settle`` checked equals the order's
    anomaly: str  #: ``paid_after_close`` or ``double_payment``


async def find_anomalous_payments(
    services: Services, *, mchids: list[str], limit: int
) -> list[AnomalousPayment]:
    """Paid attempts of ``mchids`` that are not their order's payment and have no refund yet."""
    query = (
        select(Payment.id, Payment.order_id, Payment.out_trade_no, Order.amount, Order.state)
        .join(Order, Order.id == Payment.order_id)
        .outerjoin(Refund, Refund.payment_id == Payment.id)
        .where(
            Payment.mchid.in_(mchids),
            Payment.transaction_id.is_not(None),
            or_(Order.transaction_id.is_(None), Order.transaction_id != Payment.transaction_id),
            Order.state.in_(_SETTLED),
            Refund.id.is_(None),
        )
        .order_by(Payment.paid_at, Payment.id)
        .limit(limit)
    )
    async with services.db() as session:
        rows = (await session.execute(query)).all()
    return [
        AnomalousPayment(
            payment_id,
            order_id,
            out_trade_no,
            amount,
            "paid_after_close" if state == OrderState.CLOSED else "double_payment",
        )
        for payment_id, order_id, out_trade_no, amount, state in rows
    ]


async def refund_anomalous_payments(services: Services, *, limit: int = 20) -> SweepRound:
    """Open and submit the automatic refund of each anomalous payment found (see above).

    Outcomes: the refund's settle outcome (``changed`` when WeChat accepted it),
    ``no_answer`` (left PENDING for the retry sweep), ``taken`` (another worker opened it
    first) or ``error``.
    """
    mchids = [m.mchid for m in services.registry.merchants if m.auto_refund_anomalies]
    if not mchids:
        return SweepRound()
    found = await find_anomalous_payments(services, mchids=mchids, limit=limit)
    return await gather_limited(found, lambda one: _refund(services, one))


async def _open(services: Services, payment: AnomalousPayment) -> Refund | None:
    """Insert the PENDING refund and its event; ``None`` if it exists already."""
    now = services.clock.now()
    out_refund_no = automatic_out_refund_no(payment.out_trade_no)
    refund = Refund(
        id=services.ids.new("rfd"),
        order_id=payment.order_id,
        payment_id=payment.payment_id,
        out_refund_no=out_refund_no,
        amount=payment.amount,
        reason=f"automatic refund: {payment.anomaly.replace('_', ' ')}",
        state=RefundState.PENDING,
        attempts=1,
        created_at=now,
        updated_at=now,
    )
    event = OrderEvent(
        order_id=payment.order_id,
        refund_id=refund.id,
        from_state=None,
        to_state=RefundState.PENDING.value,
        cause=AUTO_REFUND_CAUSE,
        detail={
            "amount": payment.amount,
            "out_refund_no": out_refund_no,
            "out_trade_no": payment.out_trade_no,
            "anomaly": payment.anomaly,
        },
        created_at=now,
    )
    try:
        async with services.db.begin() as session:
            session.add(refund)
            await session.flush()  # the refund first: the event refers to it
            session.add(event)
    except IntegrityError:
        return None  # the out_refund_no is taken: another worker opened this refund
    return refund


async def _refund(services: Services, payment: AnomalousPayment) -> str:
    try:
        refund = await _open(services, payment)
        if refund is None:
            return "taken"
        async with services.db() as session:
            ask = await refund_ask(services, session, refund)
        attempt = await remote.submit(services, ask)
        async with services.db.begin() as session:
            outcome = await record_attempt(
                services, session, refund.id, ask, attempt, cause=AUTO_REFUND_CAUSE, may_close=True
            )
    except (DomainError, KeyError) as exc:  # KeyError: the merchant left the config
        log.warning("automatic refund of %s: %s", payment.out_trade_no, exc)
        return "error"
    return "no_answer" if outcome is None else outcome.value
