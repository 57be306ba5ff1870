"""The order state machine: which transitions exist, and the one function that performs them.

::

    CREATED ──pay──► PAYING ──notify/query SUCCESS──► PAID ──refund──► PARTIALLY_REFUNDED / REFUNDED
       │                │
       └──expire/close──┴──► CLOSED          (PAID after CLOSED is an anomaly, never silent)

A verified SUCCESS is accepted from CREATED as well as PAYING: the payer (or the sandbox) can be
faster than our commit of the prepay.

:func:`transition` is a compare-and-set on ``(state, version)``: it reads the order, checks the
move is allowed, then ``UPDATE … WHERE id = :id AND version = :seen``. It writes the
``order_events`` row and, when the merchant must hear of it, the outbox row, in the caller's
transaction — so a transition and its announcement commit together or not at all. Two racing
callers cannot both win: the loser's UPDATE matches no row, it re-reads, and finds the move
already made (``None``) or no longer allowed.

    >>> can_move(OrderState.CREATED, OrderState.PAID)
    True
    >>> can_move(OrderState.CLOSED, OrderState.PAID)
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.detached import Detached
from paydesk.db.enums import OrderState
from paydesk.db.models import Order, OrderEvent
from paydesk.domain.errors import Conflict, NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.orders.views import order_view
from paydesk.domain.outbox import add_event

MOVES: dict[OrderState, frozenset[OrderState]] = {
    OrderState.CREATED: frozenset({OrderState.PAYING, OrderState.PAID, OrderState.CLOSED}),
    OrderState.PAYING: frozenset({OrderState.PAID, OrderState.CLOSED}),
    OrderState.PAID: frozenset({OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}),
    OrderState.PARTIALLY_REFUNDED: frozenset({OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}),
    OrderState.REFUNDED: frozenset(),
    OrderState.CLOSED: frozenset(),
}

#: The merchant event each arrival announces (refund events carry their own data).
EVENT_FOR: dict[OrderState, str] = {
    OrderState.PAID: "order.paid",
    OrderState.CLOSED: "order.closed",
    OrderState.REFUNDED: "order.refunded",
}

_MAX_RACES = 20
_EVENTS = Detached(OrderEvent)
#: The fields of an order event that a one-statement path binds as ``event_<field>``.
EVENT_FIELDS = ("from_state", "to_state", "cause", "detail")


def order_event_sql(order_id: ColumnElement[Any], created_at: ColumnElement[Any]) -> Insert:
    """The ``order_events`` row :func:`transition` adds, as SQL for the one-statement paths
    (``domain/orders/placing.py``, ``domain/payments/fastpath.py``): one ``INSERT`` for
    ``order_id`` — a column of the CTE that created or moved the order, so no order, no event —
    with :data:`EVENT_FIELDS` bound as ``event_from_state``, ``event_to_state``, …
    """
    fields = (_EVENTS.param(f"event_{name}", name) for name in EVENT_FIELDS)
    return insert(_EVENTS.table).from_select(
        ["order_id", *EVENT_FIELDS, "created_at"], select(order_id, *fields, created_at)
    )


def can_move(source: OrderState, target: OrderState) -> bool:
    """Whether the machine has an arrow from ``source`` to ``target``."""
    return target in MOVES[source]


@dataclass(frozen=True)
class Moved:
    """A transition that happened: the order as it is now, and where it came from."""

    order: Order
    from_state: OrderState


async def transition(
    session: AsyncSession,
    *,
    order_id: str,
    to: OrderState,
    cause: str,
    now: datetime,
    ids: IdSource,
    detail: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    refund_id: str | None = None,
    event_data: dict[str, Any] | None = None,
    seen: Order | None = None,
) -> Moved | None:
    """Move an order to ``to`` (with extra column ``values``); ``None`` if it is already there.

    Raises :class:`Conflict` if the order is in a state with no arrow to ``to``. The caller owns
    the transaction. ``event_data`` overrides the merchant event's ``data`` (default: the order).
    ``seen`` is the order as the caller just read it in this transaction: the first look is
    skipped (the compare-and-set still checks its version).
    """
    for _ in range(_MAX_RACES):
        fresh = seen is None or seen.id != order_id
        if not fresh:
            order: Order | None = seen  # just read in this transaction: the CAS below checks it
            seen = None
        else:
            order = await session.scalar(
                select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
            )
        if order is None:
            raise NotFound("order_not_found", f"no order {order_id}")
        source = OrderState(order.state)
        refused = (source == to and to not in MOVES[source]) or not can_move(source, to)
        if refused and not fresh:
            continue  # decide "already there" or "not allowed" on a fresh read only
        if source == to and to not in MOVES[source]:
            return None
        if not can_move(source, to):
            raise Conflict(
                "order_state_conflict",
                f"order {order_id} is {source}; it cannot become {to}",
                state=source.value,
            )
        # RETURNING refreshes the order in the same round trip as the compare-and-set.
        changed = await session.scalar(
            update(Order)
            .where(Order.id == order_id, Order.version == order.version)
            .values(state=to, version=order.version + 1, updated_at=now, **(values or {}))
            .returning(Order)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if changed is None:
            continue  # someone else moved it first: look again
        order = changed
        session.add(
            OrderEvent(
                order_id=order_id,
                refund_id=refund_id,
                from_state=source.value,
                to_state=to.value,
                cause=cause,
                detail=detail or {},
                created_at=now,
            )
        )
        event_type = EVENT_FOR.get(to)
        if event_type is not None:
            await add_event(
                session,
                ids=ids,
                type=event_type,
                mchid=order.mchid,
                order_id=order_id,
                refund_id=refund_id,
                data=event_data if event_data is not None else order_view(order),
                now=now,
            )
        return Moved(order=order, from_state=source)
    raise Conflict("order_busy", f"order {order_id} is changing too often; try again")
