"""The pay path's database work in prebuilt statements (one round trip each on PostgreSQL).

``POST /orders/{id}/pay`` for a new order reads the order and its attempts, records the first
attempt and moves the order CREATED → PAYING, asks WeChat, and stores WeChat's answer. Through
sessions that was 12 round trips (BEGIN/COMMIT, a row lock, a re-read, the unit of work's
INSERTs) and about 40 % of the request's CPU in the ORM. Here, straight on the driver
(:mod:`paydesk.db.direct`):

* :func:`read_order_and_attempts` — one ``SELECT`` (outer join), the objects detached as a
  closed session leaves them (on SQLite too, through a session: one statement, two ways to
  run it — :meth:`~paydesk.db.direct.Prebuilt.rows`);
* :func:`reserve_first_attempt` — for an order still CREATED with no attempt: one statement
  whose ``moved`` part is the compare-and-set on the version read above (``transition``'s
  rule), and, only if it moved the order, the attempt's and the order_event's ``INSERT``.
  PostgreSQL runs a statement atomically, so the three rows are written together or not at
  all. Anything else — an attempt exists, the order changed since it was read, a concurrent
  first payment won — writes nothing and returns ``None``: the caller takes the session way,
  which decides it (and reuses the winner's attempt) exactly as before;
* :func:`store_answer` — WeChat's answer, one ``UPDATE … RETURNING`` (alone in its
  transaction before, too; on SQLite in a transaction of its own).

The rows written are those the session way writes (tests compare them). SQLite cannot write
inside a ``WITH``: there the first attempt always takes the session way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update

from paydesk.db.detached import Detached
from paydesk.db.direct import Prebuilt
from paydesk.db.enums import OrderState
from paydesk.db.models import Order, Payment
from paydesk.domain.orders.states import order_event_sql

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["read_order_and_attempts", "reserve_first_attempt", "store_answer"]

_ORDERS = Detached(Order)
_PAYMENTS = Detached(Payment)
_orders, _payments = _ORDERS.table, _PAYMENTS.table


_READ = Prebuilt(
    select(*_orders.c, *_payments.c)
    .select_from(_orders.outerjoin(_payments, _payments.c.order_id == _orders.c.id))
    .where(_orders.c.id == bindparam("order_id"))
    .order_by(_payments.c.created_at)
)


def _reserve_statement() -> Prebuilt:
    moved = (
        update(_orders)
        .where(
            _orders.c.id == bindparam("order_id"),
            _orders.c.version == bindparam("seen_version"),
            _orders.c.state == OrderState.CREATED,
        )
        .values(
            state=OrderState.PAYING,
            version=_orders.c.version + 1,
            updated_at=_ORDERS.param("now", "updated_at"),
            api_version=_ORDERS.param("api_version"),
        )
        .returning(_orders.c.id)
        .cte("moved")
    )
    attempt = (
        insert(_payments)
        .from_select(
            [column.name for column in _payments.c],
            select(
                *(
                    moved.c.id
                    if column.name == "order_id"
                    else _PAYMENTS.param(f"p_{column.name}", column.name)
                    for column in _payments.c
                )
            ),
        )
        .returning(*_payments.c)
        .cte("attempt")
    )
    event = order_event_sql(moved.c.id, _ORDERS.param("now", "updated_at"))
    return Prebuilt(select(*attempt.c).add_cte(event.cte("event")))


_RESERVE = _reserve_statement()

_STORE = Prebuilt(
    update(_payments)
    .where(_payments.c.id == bindparam("payment_id"))
    .values(
        prepay_id=bindparam("prepay_id"),
        code_url=bindparam("code_url"),
        h5_url=bindparam("h5_url"),
        expires_at=_PAYMENTS.param("expires_at"),
    )
    .returning(*_payments.c)
)


async def read_order_and_attempts(
    services: Services, order_id: str
) -> tuple[Order, list[Payment]] | None:
    """The order and its attempts, oldest first; ``None`` when there is no such order."""
    rows = await _READ.rows(services.db, {"order_id": order_id})
    if not rows:
        return None
    width = _ORDERS.width
    attempts = [_PAYMENTS.load(row, width) for row in rows if row[width] is not None]
    return _ORDERS.load(rows[0]), attempts


async def reserve_first_attempt(
    services: Services,
    order: Order,
    attempt: Payment,
    *,
    now: datetime,
    cause: str,
    detail: dict[str, Any],
) -> Payment | None:
    """Store ``attempt`` and move ``order`` (as read, CREATED) to PAYING; ``None``, with
    nothing written, when the order is no longer as read."""
    values: dict[str, Any] = {
        f"p_{name}": value
        for name, value in _PAYMENTS.values(attempt).items()
        if name != "order_id"
    }
    values.update(
        order_id=order.id,
        seen_version=order.version,
        now=now,
        api_version=attempt.api_version,
        event_from_state=OrderState.CREATED.value,
        event_to_state=OrderState.PAYING.value,
        event_cause=cause,
        event_detail=detail,
    )
    rows = await _RESERVE.rows(services.db, values)
    return _PAYMENTS.load(rows[0]) if rows else None


async def store_answer(
    services: Services,
    payment_id: str,
    *,
    prepay_id: str | None,
    code_url: str | None,
    h5_url: str | None,
    expires_at: datetime,
) -> Payment | None:
    """Record WeChat's answer on the attempt; ``None`` if there is no such attempt."""
    rows = await _STORE.rows(
        services.db,
        {
            "payment_id": payment_id,
            "prepay_id": prepay_id,
            "code_url": code_url,
            "h5_url": h5_url,
            "expires_at": expires_at,
        },
        write=True,
    )
    return _PAYMENTS.load(rows[0]) if rows else None
