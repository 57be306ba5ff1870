"""Placing an order for the merchant API: the order and its first event, stored together.

:func:`place_order` stores a new order and its first event: on SQLite through a session,
in one transaction (``add_new_order``); on PostgreSQL as one
statement instead — the order's ``INSERT … RETURNING`` and, selecting from it, the event's
``INSERT`` — run straight on the driver (:mod:`paydesk.db.direct`): one round trip instead of
four (BEGIN, two INSERTs, COMMIT) and no unit of work. PostgreSQL runs a statement atomically,
so the two rows are stored together or not at all, as in the transaction. Both ways write the
values :func:`~paydesk.domain.orders.service.new_order_rows` computed (a test compares the
rows), and a refusal is the same error (``refused``).

    order = await place_order(services, NewOrder("A-1001", 4999, "Green tea ×2"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from paydesk.db.detached import Detached
from paydesk.db.direct import Prebuilt, postgresql_engine
from paydesk.db.models import Order
from paydesk.domain.orders.service import NewOrder, add_new_order, new_order_rows, refused
from paydesk.domain.orders.states import EVENT_FIELDS, order_event_sql

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["place_order"]

_ORDERS = Detached(Order)


def _statement() -> Prebuilt:
    orders = _ORDERS.table
    created = (
        insert(orders)
        .values({column.name: _ORDERS.param(column.name) for column in orders.c})
        .returning(*orders.c)
        .cte("created")
    )
    event = order_event_sql(created.c.id, created.c.created_at)
    return Prebuilt(select(*created.c).add_cte(event.cte("event")))


_PLACE = _statement()


async def place_order(services: Services, new: NewOrder) -> Order:
    """Create and store ``new`` (CREATED, with its ``api.create`` event); the stored order."""
    order, event = new_order_rows(
        new,
        registry=services.registry,
        ids=services.ids,
        now=services.clock.now(),
        default_ttl=services.order_ttl,
    )
    if postgresql_engine(services.db) is None:
        async with services.db.begin() as session:
            return await add_new_order(session, order, event)
    values = _ORDERS.values(order)
    values.update({f"event_{name}": getattr(event, name) for name in EVENT_FIELDS})
    try:
        [row] = await _PLACE.rows(services.db, values)  # an INSERT … RETURNING: one row
    except IntegrityError as exc:
        raise refused(order, exc) from exc
    return _ORDERS.load(row)
