"""Settle what WeChat says about a payment attempt: the one place an order becomes PAID.

Every road — a v3 or v2 notification, a query after the mini program's success callback, the
PAYING sweep — reduces WeChat's answer to a :class:`TradeReport` and calls :func:`settle`,
inside one transaction. It checks the report against *our* records (merchant, app, trade
number, amount) and then:

* SUCCESS for a CREATED/PAYING order → PAID (order_event + ``order.paid`` outbox row);
* SUCCESS already applied (same transaction id) → nothing, a duplicate;
* SUCCESS for a CLOSED order → ``paid_after_close`` anomaly (never silent, never PAID);
* SUCCESS on a second trade number of a PAID order → ``double_payment`` anomaly;
* mismatched merchant / app / amount → an anomaly, order untouched;
* CLOSED / NOTPAY / … → the attempt's state is recorded, the order untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import OrderState
from paydesk.db.models import Order, Payment
from paydesk.domain.anomalies import record_anomaly
from paydesk.domain.ids import IdSource
from paydesk.domain.orders.states import transition


@dataclass(frozen=True)
class TradeReport:
    """WeChat's word on one trade number, from a notification or a query, v3 or v2."""

    mchid: str
    appid: str
    out_trade_no: str
    trade_state: str
    transaction_id: str | None = None
    total: int | None = None
    payer_total: int | None = None
    openid: str | None = None
    success_time: datetime | None = None


class Outcome(StrEnum):
    """What :func:`settle` did."""

    PAID = "paid"  #: the order became PAID
    DUPLICATE = "duplicate"  #: already applied; nothing changed
    NOT_PAID = "not_paid"  #: WeChat does not report a success; order untouched
    ANOMALY = "anomaly"  #: recorded for a person; order untouched
    UNKNOWN_ORDER = "unknown_order"  #: no attempt of ours has this trade number


@dataclass(frozen=True)
class Settled:
    """The outcome, with the order (when we know it) and the anomaly kind (when one was made)."""

    outcome: Outcome
    order: Order | None = None
    anomaly: str | None = None


async def settle(
    session: AsyncSession, report: TradeReport, *, cause: str, now: datetime, ids: IdSource
) -> Settled:
    """Apply ``report`` in the caller's transaction (see the module docstring)."""
    # The attempt and its order in one round trip (this runs for every notification).
    found = (
        await session.execute(
            select(Payment, Order)
            .join(Order, Order.id == Payment.order_id)
            .where(Payment.out_trade_no == report.out_trade_no)
            .execution_options(populate_existing=True)
        )
    ).first()
    payment, order = (found[0], found[1]) if found is not None else (None, None)
    if payment is None or order is None or payment.mchid != report.mchid:
        await record_anomaly(
            session,
            kind="unknown_order",
            mchid=report.mchid,
            now=now,
            ids=ids,
            detail={
                "out_trade_no": report.out_trade_no,
                "trade_state": report.trade_state,
                "transaction_id": report.transaction_id,
                "cause": cause,
            },
        )
        return Settled(Outcome.UNKNOWN_ORDER, anomaly="unknown_order")
    if report.trade_state not in ("SUCCESS", "REFUND"):
        payment.trade_state = report.trade_state
        return Settled(Outcome.NOT_PAID, order)
    problem = mismatch(order, payment, report)
    if problem is not None:
        kind, detail = problem
        await record_anomaly(
            session,
            kind=kind,
            mchid=order.mchid,
            order_id=order.id,
            detail={**detail, "cause": cause},
            now=now,
            ids=ids,
        )
        return Settled(Outcome.ANOMALY, order, kind)
    if payment.transaction_id is not None and payment.transaction_id == report.transaction_id:
        # This attempt's success was settled before: it paid the order, or it was recorded
        # as an anomaly (paid after close, double payment). Either way: nothing new.
        return Settled(Outcome.DUPLICATE, order)
    state = OrderState(order.state)
    if state in (OrderState.CREATED, OrderState.PAYING):
        moved = await transition(
            session,
            order_id=order.id,
            seen=order,
            to=OrderState.PAID,
            cause=cause,
            now=now,
            ids=ids,
            detail=paid_detail(report),
            values=paid_values(order, report, now),
        )
        # The attempt changes only now, so it is written (and its row locked) after the
        # order's: rows are locked order first, attempt second — as the one-statement way
        # (fastpath.py) does. The other order deadlocked against it on PostgreSQL.
        _record_success(payment, report, now)
        if moved is None:
            return Settled(Outcome.DUPLICATE, order)
        return Settled(Outcome.PAID, moved.order)
    _record_success(payment, report, now)
    if order.transaction_id == report.transaction_id:
        return Settled(Outcome.DUPLICATE, order)
    kind = "paid_after_close" if state == OrderState.CLOSED else "double_payment"
    await record_anomaly(
        session,
        kind=kind,
        mchid=order.mchid,
        order_id=order.id,
        now=now,
        ids=ids,
        detail={
            "out_trade_no": report.out_trade_no,
            "transaction_id": report.transaction_id,
            "amount": report.total,
            "order_state": state.value,
            "cause": cause,
        },
    )
    return Settled(Outcome.ANOMALY, order, kind)


def _record_success(payment: Payment, report: TradeReport, now: datetime) -> None:
    payment.trade_state = "SUCCESS"
    payment.transaction_id = report.transaction_id
    payment.paid_at = report.success_time or now


def paid_detail(report: TradeReport) -> dict[str, Any]:
    """The order_event ``detail`` of a payment that made its order PAID."""
    return {"out_trade_no": report.out_trade_no, "transaction_id": report.transaction_id}


def paid_values(order: Order, report: TradeReport, now: datetime) -> dict[str, Any]:
    """The order's columns a payment sets when it makes the order PAID."""
    return {
        "transaction_id": report.transaction_id,
        "paid_amount": report.payer_total if report.payer_total is not None else report.total,
        "paid_at": report.success_time or now,
        "payer_openid": report.openid or order.payer_openid,
        "payer_appid": report.appid,
    }


def mismatch(
    order: Order, payment: Payment, report: TradeReport
) -> tuple[str, dict[str, object]] | None:
    """The anomaly (kind, detail) when ``report`` disagrees with our records, else None."""
    if report.mchid != order.mchid:
        return "merchant_mismatch", {"ours": order.mchid, "reported": report.mchid}
    if report.appid != payment.appid:
        return "app_mismatch", {"ours": payment.appid, "reported": report.appid}
    if report.total != order.amount:
        return "amount_mismatch", {
            "ours": order.amount,
            "reported": report.total,
            "out_trade_no": report.out_trade_no,
        }
    return None
