"""After the storm: does paydesk's ledger equal WeChat's (the sandbox's), order by order?

For every order, each of its attempts is looked up at the sandbox (expiry applied) and:

* an order nobody paid must be CLOSED here, and every attempt CLOSED there;
* an order paid once must hold that transaction and its amount, its successful refunds must
  be the sandbox's to the fen, its state must follow from them (PAID, PARTIALLY_REFUNDED,
  REFUNDED) and nothing may be left reserved for a refund still open;
* an attempt paid besides the order's own (a payment for a closed order, a second payment) is
  refunded in full on both sides when the merchant has ``auto_refund_anomalies``;
* every refund of ours is final (SUCCESS or CLOSED) and says what the sandbox says.

``fen`` adds up, over every attempt, how far the two sides are apart in paid and refunded fen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from paydesk.db.enums import OrderState, RefundState
from paydesk.db.models import Order, Payment, Refund
from paydesk.domain.context import Services
from paydesk.sandbox import Sandbox
from paydesk.sandbox.pay.model import Order as WeChatOrder
from paydesk.sandbox.pay.refusals import Refusal


@dataclass
class OrderVerdict:
    """What is wrong with one order (nothing, ideally) and by how many fen."""

    order_id: str
    problems: list[str] = field(default_factory=list)
    fen: int = 0


@dataclass(frozen=True)
class Verdict:
    """Every order's verdict."""

    orders: tuple[OrderVerdict, ...]

    @property
    def mismatched(self) -> list[OrderVerdict]:
        """The orders with a problem."""
        return [o for o in self.orders if o.problems]

    @property
    def fen(self) -> int:
        """Fen apart, over every order."""
        return sum(o.fen for o in self.orders)


def _wechat_order(sandbox: Sandbox, payment: Payment) -> WeChatOrder | None:
    try:
        return sandbox.pay.book.get(payment.mchid, payment.out_trade_no, sandbox.clock.now())
    except Refusal:
        return None  # the prepay never reached WeChat (a 5xx, say)


def _refunded_there(sandbox: Sandbox, order: WeChatOrder) -> int:
    return sum(r.refund for r in sandbox.pay.book.refunds_of(order) if r.status == "SUCCESS")


def _expected_state(paid: int, refunded: int) -> OrderState:
    if refunded == 0:
        return OrderState.PAID
    return OrderState.REFUNDED if refunded >= paid else OrderState.PARTIALLY_REFUNDED


def _check_refunds(sandbox: Sandbox, verdict: OrderVerdict, refunds: list[Refund]) -> None:
    for refund in refunds:
        if refund.state not in (RefundState.SUCCESS, RefundState.CLOSED):
            verdict.problems.append(f"refund {refund.out_refund_no} still {refund.state}")
        there = sandbox.pay.book.find_refunds(refund.out_refund_no)
        status = there[0].status if there else "CLOSED"  # never accepted = nothing returned
        if status != refund.state:
            verdict.problems.append(
                f"refund {refund.out_refund_no}: {refund.state} here, {status} at WeChat"
            )


def _check_order(
    sandbox: Sandbox,
    order: Order,
    payments: list[Payment],
    refunds: list[Refund],
    auto_refund: bool,
) -> OrderVerdict:
    verdict = OrderVerdict(order.id)
    there = {p.out_trade_no: _wechat_order(sandbox, p) for p in payments}
    paid_there = {no: o for no, o in there.items() if o is not None and o.paid}
    own = next((o for o in paid_there.values() if o.transaction_id == order.transaction_id), None)
    if order.transaction_id is None:
        if order.state != OrderState.CLOSED:
            verdict.problems.append(f"unpaid here but {order.state}, not CLOSED")
        for number, wechat in there.items():
            if wechat is not None and wechat.state != "CLOSED" and not wechat.paid:
                verdict.problems.append(f"attempt {number} is {wechat.state} at WeChat")
    elif own is None:
        verdict.problems.append(f"transaction {order.transaction_id} unknown at WeChat")
        verdict.fen += order.paid_amount or 0
    else:
        paid = order.paid_amount or 0
        ours = sum(r.amount for r in refunds if r.payment_id is None and r.state == "SUCCESS")
        theirs = _refunded_there(sandbox, own)
        verdict.fen += abs(paid - own.draft.total) + abs(ours - theirs)
        if paid != own.draft.total:
            verdict.problems.append(f"paid {paid} here, {own.draft.total} at WeChat")
        if ours != theirs:
            verdict.problems.append(f"refunded {ours} here, {theirs} at WeChat")
        if order.refunded_amount != ours:
            verdict.problems.append(f"{order.refunded_amount} reserved, {ours} refunded")
        if order.state != _expected_state(paid, ours):
            verdict.problems.append(f"{order.state} with {ours} of {paid} refunded")
    by_payment = {p.out_trade_no: p.id for p in payments}
    for number, wechat in paid_there.items():
        if wechat is own:
            continue
        automatic = [r for r in refunds if r.payment_id == by_payment[number]]
        returned = _refunded_there(sandbox, wechat)
        expected = wechat.draft.total if auto_refund else 0
        ours = sum(r.amount for r in automatic if r.state == "SUCCESS")
        verdict.fen += abs(ours - returned)
        if (ours, returned) != (expected, expected):
            verdict.problems.append(
                f"extra payment {number}: {ours} refunded here, {returned} at WeChat"
            )
    _check_refunds(sandbox, verdict, refunds)
    return verdict


async def judge(services: Services, sandbox: Sandbox) -> Verdict:
    """Compare every order of ``services``' database with ``sandbox``."""
    async with services.db() as session:
        orders = list(await session.scalars(select(Order).order_by(Order.id)))
        payments: dict[str, list[Payment]] = defaultdict(list)
        for payment in await session.scalars(select(Payment).order_by(Payment.created_at)):
            payments[payment.order_id].append(payment)
        refunds: dict[str, list[Refund]] = defaultdict(list)
        for refund in await session.scalars(select(Refund).order_by(Refund.id)):
            refunds[refund.order_id].append(refund)
    automatic = {m.mchid for m in services.registry.merchants if m.auto_refund_anomalies}
    return Verdict(
        tuple(
            _check_order(
                sandbox, order, payments[order.id], refunds[order.id], order.mchid in automatic
            )
            for order in orders
        )
    )
