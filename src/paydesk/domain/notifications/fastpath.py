"""The common case of a payment notification, on PostgreSQL, in one statement.

Nearly every notification is the first ``SUCCESS`` for a PAYING order whose records agree with
it. :func:`settle_paid_at_once` applies exactly that case with one read and one write, outside
any explicit transaction:

1. read the attempt and its order (one ``SELECT``);
2. check in Python what :func:`~paydesk.domain.payments.settle.settle` checks — same
   merchant, app and amount, order CREATED/PAYING, attempt not yet settled — and, only then,
3. one ``UPDATE … RETURNING`` inside a ``WITH``: the order moves to PAID by compare-and-set on
   the version just read (and only while the attempt is still unsettled); the attempt, the
   order_event, the ``order.paid`` outbox row and the stored notification are written from
   that update's result. PostgreSQL runs a statement atomically, so either all five rows
   change or none does.

Anything else — another state, a mismatch, a duplicate, a race lost to a concurrent writer
(the compare-and-set matches no row) — returns ``None`` and nothing has changed: the caller
goes the general way (``settle`` in a session), which decides it and records it exactly as
before. The rows written here are the rows the general way writes; a test holds both to that.

Why: under a burst of notifications the general way spends most of its time in the ORM's unit
of work and in round trips (BEGIN, six statements, COMMIT); this path takes two round trips
and no ORM, and runs both statements straight on asyncpg (:mod:`paydesk.db.direct`: SQLAlchemy's
asyncio layer cost more than the statements). docs/performance.md has the measurements.
SQLite cannot modify data inside a ``WITH``; there the general way is the only way.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, exists, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.db.direct import DirectStatement, driver_connection
from paydesk.db.enums import NotificationKind, OrderState
from paydesk.db.models import Notification, Order, OrderEvent, OutboxEvent, Payment
from paydesk.domain.notifications.receipts import Receipt, Verdict
from paydesk.domain.notifications.records import Inbound, notification_values, payment_detail
from paydesk.domain.orders.states import EVENT_FOR
from paydesk.domain.orders.views import order_view
from paydesk.domain.outbox import event_payload
from paydesk.domain.payments.settle import TradeReport, mismatch, paid_detail, paid_values

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["settle_paid_at_once", "takes_fast_path"]

_orders = cast(Table, Order.__table__)
_payments = cast(Table, Payment.__table__)
_events = cast(Table, OrderEvent.__table__)
_outbox = cast(Table, OutboxEvent.__table__)
_notifications = cast(Table, Notification.__table__)
_PAYABLE = (OrderState.CREATED, OrderState.PAYING)
#: What the ``order.paid`` event and the compare-and-set write, besides state and version.
_PAID_COLUMNS = ("transaction_id", "paid_amount", "paid_at", "payer_openid", "payer_appid")


def _engine(services: Services) -> AsyncEngine:
    # The engine behind ``services.db``: the one every other write of paydesk goes through.
    return cast(AsyncEngine, services.db.kw["bind"])


def takes_fast_path(services: Services) -> bool:
    """Whether this deployment's database can take the one-statement path (PostgreSQL)."""
    return _engine(services).dialect.name == "postgresql"


async def settle_paid_at_once(
    services: Services, inbound: Inbound, report: TradeReport, *, event_id: str | None
) -> Receipt | None:
    """Apply ``report`` if it is the plain first success of a payable order (see the module
    docstring); ``None`` when it is not, with nothing changed."""
    if report.trade_state != "SUCCESS" or report.mchid != inbound.mchid:
        return None
    engine = _engine(services)
    read, write = _statements(engine.dialect)
    # Autocommit, straight on the driver: no BEGIN / COMMIT round trips, each of the two
    # statements stands alone.
    async with driver_connection(engine) as connection:
        found = await _attempt_and_order(read, connection, report.out_trade_no)
        if found is None:
            return None
        payment, order = found
        if not _plain_success(payment, order, report):
            return None
        stored = notification_values(
            inbound,
            kind=NotificationKind.PAYMENT,
            verdict=Verdict.APPLIED.value,
            detail=payment_detail(report, Verdict.APPLIED.value),
            event_id=event_id,
            order_id=order.id,
        )
        values = _values(payment, order, report, inbound, stored, services.ids.new("evt"))
        written = await write.fetchrow(connection, values)
    if written is None:
        return None  # lost a race: the order or the attempt moved since it was read
    return Receipt(Verdict.APPLIED, 204, stored["detail"], written[0], order.id)


@lru_cache(maxsize=8)
def _statements(dialect: Dialect) -> tuple[DirectStatement, DirectStatement]:
    # Compiled once per dialect: compiling costs more than running.
    return DirectStatement(_READ, dialect), DirectStatement(_SETTLE, dialect)


# --- the read ---------------------------------------------------------------------------------

_READ = (
    select(_payments, _orders)
    .join(_orders, _orders.c.id == _payments.c.order_id)
    .where(_payments.c.out_trade_no == bindparam("p_out_trade_no"))
)


def _attribute_names(model: type[Any], table: Table) -> list[str]:
    by_column = {prop.columns[0].key: prop.key for prop in model.__mapper__.column_attrs}
    return [by_column[column.key] for column in table.c]


_PAYMENT_NAMES = _attribute_names(Payment, _payments)
_ORDER_NAMES = _attribute_names(Order, _orders)


async def _attempt_and_order(
    read: DirectStatement, connection: Any, out_trade_no: str
) -> tuple[Payment, Order] | None:
    row = await read.fetchrow(connection, {"p_out_trade_no": out_trade_no})
    if row is None:
        return None
    # Plain attribute holders, not ORM entities (building those costs more than the read):
    # what mismatch() and order_view() look at, by the entities' attribute names.
    width = len(_PAYMENT_NAMES)
    payment = SimpleNamespace(**dict(zip(_PAYMENT_NAMES, row[:width], strict=True)))
    order = SimpleNamespace(**dict(zip(_ORDER_NAMES, row[width:], strict=True)))
    return cast(Payment, payment), cast(Order, order)


def _plain_success(payment: Payment, order: Order, report: TradeReport) -> bool:
    return (
        payment.mchid == report.mchid
        and mismatch(order, payment, report) is None
        and payment.transaction_id is None
        and order.state in _PAYABLE  # a StrEnum: the enum or its string alike
    )


# --- the write: one statement, built once, bound per notification ----------------------------


def _bound(table: Table, columns: list[str], prefix: str) -> Any:
    """``INSERT INTO table (columns) SELECT :prefix_column, … FROM moved``."""
    row = select(*(bindparam(f"p_{prefix}_{c}", type_=table.c[c].type).label(c) for c in columns))
    return insert(table).from_select(columns, row.select_from(_MOVED))


_MOVED = (
    update(_orders)
    .where(
        _orders.c.id == bindparam("p_order_id"),
        _orders.c.version == bindparam("p_seen_version"),
        exists().where(
            _payments.c.id == bindparam("p_payment_id"), _payments.c.transaction_id.is_(None)
        ),
    )
    .values(
        state=OrderState.PAID,
        version=bindparam("p_new_version"),
        updated_at=bindparam("p_now"),
        **{column: bindparam(f"p_order_{column}") for column in _PAID_COLUMNS},
    )
    .returning(_orders.c.id)
    .cte("moved")
)
_ATTEMPT = (
    update(_payments)
    .where(_payments.c.id == bindparam("p_payment_id"), exists(select(_MOVED.c.id)))
    .values(
        trade_state="SUCCESS",
        transaction_id=bindparam("p_order_transaction_id"),
        paid_at=bindparam("p_order_paid_at"),
    )
    .returning(_payments.c.id)
    .cte("attempt")
)
_EVENT_COLUMNS = ["order_id", "from_state", "to_state", "cause", "detail", "created_at"]
_OUTBOX_COLUMNS = ["id", "type", "mchid", "order_id", "payload", "created_at"]
_NOTIFICATION_COLUMNS = [
    "received_at",
    "mchid",
    "api_version",
    "kind",
    "event_id",
    "headers",
    "body",
    "verdict",
    "detail",
    "order_id",
]
_SETTLE = (
    _bound(_notifications, _NOTIFICATION_COLUMNS, "note")
    .returning(_notifications.c.id)
    .add_cte(
        _ATTEMPT,
        _bound(_events, _EVENT_COLUMNS, "event").cte("event"),
        _bound(_outbox, _OUTBOX_COLUMNS, "outbox").cte("outbox"),
    )
)


def _values(
    payment: Payment,
    order: Order,
    report: TradeReport,
    inbound: Inbound,
    stored: dict[str, Any],
    outbox_id: str,
) -> dict[str, Any]:
    """Every parameter of ``_SETTLE`` for this notification."""
    now = inbound.received_at
    paid = paid_values(order, report, now)
    after = {
        **vars(order),
        **paid,
        "state": OrderState.PAID,
        "version": order.version + 1,
        "updated_at": now,
    }
    event_type = EVENT_FOR[OrderState.PAID]
    data = order_view(cast(Order, SimpleNamespace(**after)))
    values: dict[str, Any] = {
        "p_order_id": order.id,
        "p_seen_version": order.version,
        "p_new_version": order.version + 1,
        "p_payment_id": payment.id,
        "p_now": now,
        **{f"p_order_{column}": paid[column] for column in _PAID_COLUMNS},
        "p_event_order_id": order.id,
        "p_event_from_state": order.state,
        "p_event_to_state": OrderState.PAID.value,
        "p_event_cause": f"notify.{inbound.api_version.value}",
        "p_event_detail": paid_detail(report),
        "p_event_created_at": now,
        "p_outbox_id": outbox_id,
        "p_outbox_type": event_type,
        "p_outbox_mchid": order.mchid,
        "p_outbox_order_id": order.id,
        "p_outbox_payload": event_payload(outbox_id, event_type, data, now),
        "p_outbox_created_at": now,
    }
    values.update({f"p_note_{c}": stored[c] for c in _NOTIFICATION_COLUMNS})
    return values
