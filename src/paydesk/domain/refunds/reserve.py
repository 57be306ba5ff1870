"""Reserve a refund's amount on its order — never more than was paid, however many ask at once.

``orders.refunded_amount`` is *reserved + succeeded*: every refund that is not CLOSED holds its
amount there from the moment it exists. The reservation is ONE conditional UPDATE, in the
transaction that inserts the PENDING refund::

    UPDATE orders SET refunded_amount = refunded_amount + :amount
     WHERE id = :id AND state IN ('PAID', 'PARTIALLY_REFUNDED')
       AND refunded_amount + :amount <= paid_amount

The database evaluates the condition against the latest committed row (PostgreSQL re-checks it
after waiting for a concurrent writer's lock; SQLite runs one writer at a time), so fifty
concurrent requests for 1 fen on an order of 30 fen give exactly thirty reservations and twenty
refusals, and the ``ck_orders_refunded_within_paid`` check constraint stands behind it. A refund
that definitively fails gives its amount back in the transaction that records the failure
(``settle.py``, on CLOSED).

>>> OUT_REFUND_NO.fullmatch("rfd_01KDVDNA000000000000000000") is not None
True
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.enums import OrderState, RefundState
from paydesk.db.models import Order, OrderEvent, Refund
from paydesk.domain.errors import Conflict, InvalidInput
from paydesk.domain.ids import IdSource
from paydesk.domain.orders.service import get_order

__all__ = ["OUT_REFUND_NO", "REFUNDABLE_STATES", "out_refund_no_for_key", "reserve_refund"]

#: WeChat's ``out_refund_no``: 1–64 of digits, letters and ``_-|*@`` (refund API doc 4012791903).
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
#: WeChat's ``reason`` is string(80).
MAX_REASON = 80
REFUNDABLE_STATES = (OrderState.PAID, OrderState.PARTIALLY_REFUNDED)


def out_refund_no_for_key(scope: str, idempotency_key: str) -> str:
    """The ``out_refund_no`` of a refund asked under an ``Idempotency-Key`` (and no number of
    the merchant's own): the same every time the request runs. A request run again — its
    stored response lost with the database, its claim gone stale — is then refused as
    ``duplicate_out_refund_no`` instead of becoming a second refund.

    >>> number = out_refund_no_for_key("key_01", "order-42-refund")
    >>> number == out_refund_no_for_key("key_01", "order-42-refund"), len(number)
    (True, 56)
    >>> number != out_refund_no_for_key("key_02", "order-42-refund")
    True
    """
    digest = hashlib.sha256(f"{scope}\0{idempotency_key}".encode()).digest()
    return "rfk_" + base64.b32encode(digest).decode().rstrip("=").lower()


def _check(amount: int, reason: str | None, out_refund_no: str | None) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("invalid_amount", "amount must be a positive integer number of fen")
    if reason is not None and (len(reason) > MAX_REASON or any(ord(c) > 0xFFFF for c in reason)):
        raise InvalidInput("invalid_reason", "reason must be at most 80 characters, without emoji")
    if out_refund_no is not None and OUT_REFUND_NO.fullmatch(out_refund_no) is None:
        raise InvalidInput(
            "invalid_out_refund_no", "out_refund_no must be 1–64 of 0-9 A-Z a-z _ - | * @"
        )


async def reserve_refund(
    session: AsyncSession,
    *,
    order_id: str,
    amount: int,
    reason: str | None,
    out_refund_no: str | None,
    mchid: str | None,
    cause: str,
    now: datetime,
    ids: IdSource,
) -> Refund:
    """Reserve ``amount`` on the order and insert the PENDING refund, in the caller's transaction.

    ``mchid`` scopes the order to the caller's merchant (``None``: any). Raises
    :class:`Conflict` ``order_not_paid``, ``refund_exceeds_paid`` (with ``refundable``) or
    ``duplicate_out_refund_no``; :class:`InvalidInput` for a bad amount, reason or number.
    """
    _check(amount, reason, out_refund_no)
    scope = [Order.mchid == mchid] if mchid is not None else []
    reserved = await session.execute(
        update(Order)
        .where(
            Order.id == order_id,
            *scope,
            Order.state.in_(REFUNDABLE_STATES),
            Order.refunded_amount + amount <= Order.paid_amount,
        )
        .values(refunded_amount=Order.refunded_amount + amount, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if reserved.rowcount != 1:  # type: ignore[attr-defined]
        await _refusal(session, order_id, mchid, amount)
    refund_id = ids.new("rfd")
    refund = Refund(
        id=refund_id,
        order_id=order_id,
        out_refund_no=out_refund_no or refund_id,
        amount=amount,
        reason=reason,
        state=RefundState.PENDING,
        attempts=1,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "duplicate_out_refund_no",
            f"out_refund_no {out_refund_no!r} is taken; each refund needs its own number",
        ) from exc
    session.add(
        OrderEvent(
            order_id=order_id,
            refund_id=refund.id,
            from_state=None,
            to_state=RefundState.PENDING.value,
            cause=cause,
            detail={"amount": amount, "out_refund_no": refund.out_refund_no},
            created_at=now,
        )
    )
    await session.flush()
    return refund


async def _refusal(session: AsyncSession, order_id: str, mchid: str | None, amount: int) -> None:
    """Say precisely why the reservation matched no row (always raises)."""
    order = await get_order(session, order_id, mchid=mchid)
    state = OrderState(order.state)
    if state not in (*REFUNDABLE_STATES, OrderState.REFUNDED):
        raise Conflict(
            "order_not_paid",
            f"order {order_id} is {state}; only a paid order can be refunded",
            state=state.value,
        )
    refundable = max((order.paid_amount or 0) - order.refunded_amount, 0)
    raise Conflict(
        "refund_exceeds_paid",
        f"{amount} fen is more than the {refundable} fen still refundable on order {order_id}",
        refundable=refundable,
        state=state.value,
    )
