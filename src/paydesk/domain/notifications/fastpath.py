"""The common case of a payment notification, on PostgreSQL, in one statement.

Nearly every notification is the first ``SUCCESS`` for a PAYING order whose records agree with
it. :func:`settle_paid_at_once` applies exactly that case with one statement, one round trip,
outside any explicit transaction (PostgreSQL runs a statement atomically):

1. ``found``: the attempt and its order, only if they agree with the report — what
   :func:`~paydesk.domain.payments.settle.settle` checks: same merchant (attempt and order),
   app and amount, order CREATED/PAYING, attempt not yet settled;
2. ``moved``: the order moves to PAID by compare-and-set on the version ``found`` read;
3. from ``moved``: the attempt, the order_event, the ``order.paid`` outbox row (its payload
   rendered by the database: :func:`~paydesk.domain.orders.views.order_view_sql`) and the
   stored notification.

Anything else — another state, a mismatch, a duplicate, a race lost to a concurrent writer
(the compare-and-set matches no row) — writes nothing and returns ``None``: the caller goes
the general way (``settle`` in a session), which decides it and records it exactly as before.
The rows written here are the rows the general way writes; a test holds both to that.

Why: under a burst of notifications the general way spends most of its time in the ORM's unit
of work and in round trips (BEGIN, six statements, COMMIT); this path is one round trip, no
ORM, straight on asyncpg (:mod:`paydesk.db.direct`). docs/performance.md has the measurements.
SQLite cannot modify data inside a ``WITH``; there the general way is the only way.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from paydesk.db.direct import Prebuilt, postgresql_engine
from paydesk.db.enums import NotificationKind, OrderState
from paydesk.db.models import Order
from paydesk.db.types import UTCDateTime
from paydesk.domain.notifications.receipts import Receipt, Verdict
from paydesk.domain.notifications.records import Inbound, notification_values, payment_detail
from paydesk.domain.orders.states import EVENT_FOR
from paydesk.domain.orders.views import order_view_sql
from paydesk.domain.outbox import event_payload_sql
from paydesk.domain.payments.settle import TradeReport, paid_detail, paid_values

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["settle_paid_at_once", "takes_fast_path"]

_PAID = OrderState.PAID.value
_EVENT_TYPE = EVENT_FOR[OrderState.PAID]

#: The ``order.paid`` event, rendered from the moved order by the database.
_PAYLOAD = event_payload_sql(
    "CAST(:outbox_id AS text)",
    f"'{_EVENT_TYPE}'",
    "CAST(:created AS bigint)",
    order_view_sql("moved"),
)
# Table and column names are the models' (a change there fails the fast path's tests, which
# compare its rows with the general way's). Parameters are named; CAST gives asyncpg a type
# where the statement alone would not. The f-string inserts constants only, never input.
_SQL = f"""
WITH found AS (
    SELECT o.id, o.version, o.state, p.id AS payment_id
    FROM payments AS p JOIN orders AS o ON o.id = p.order_id
    WHERE p.out_trade_no = :out_trade_no
      AND p.mchid = :mchid AND o.mchid = :mchid AND p.appid = :appid AND o.amount = :total
      AND p.transaction_id IS NULL
      AND o.state IN ('{OrderState.CREATED.value}', '{OrderState.PAYING.value}')
), moved AS (
    UPDATE orders SET
        state = '{_PAID}', version = orders.version + 1, updated_at = :now,
        transaction_id = :transaction_id, paid_amount = :paid_amount, paid_at = :paid_at,
        payer_openid = COALESCE(:payer_openid, orders.payer_openid), payer_appid = :appid
    FROM found
    WHERE orders.id = found.id AND orders.version = found.version
    RETURNING orders.*, found.state AS from_state, found.payment_id
), attempt AS (
    UPDATE payments SET trade_state = 'SUCCESS', transaction_id = :transaction_id,
        paid_at = :paid_at
    FROM moved WHERE payments.id = moved.payment_id
), event AS (
    INSERT INTO order_events (order_id, from_state, to_state, cause, detail, created_at)
    SELECT moved.id, moved.from_state, '{_PAID}', :cause, :event_detail, :now FROM moved
), outbox AS (
    INSERT INTO outbox_events (id, type, mchid, order_id, payload, created_at)
    SELECT CAST(:outbox_id AS text), '{_EVENT_TYPE}', moved.mchid, moved.id,
        {_PAYLOAD}, :now
    FROM moved
)
INSERT INTO notifications
    (received_at, mchid, api_version, kind, event_id, headers, body, verdict, detail, order_id)
SELECT :received_at, :mchid, :api_version, :kind, :event_id, :headers, :body, :verdict,
    :detail, moved.id
FROM moved
RETURNING id, order_id
"""  # noqa: S608
_SETTLE = Prebuilt(
    text(_SQL).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("paid_at", type_=UTCDateTime()),
        bindparam("received_at", type_=UTCDateTime()),
        bindparam("event_detail", type_=JSONB()),
        bindparam("headers", type_=JSONB()),
    )
)


def takes_fast_path(services: Services) -> bool:
    """Whether this deployment's database can take the one-statement path (PostgreSQL)."""
    return postgresql_engine(services.db) is not None


async def settle_paid_at_once(
    services: Services, inbound: Inbound, report: TradeReport, *, event_id: str | None
) -> Receipt | None:
    """Apply ``report`` if it is the plain first success of a payable order (see the module
    docstring); ``None`` when it is not, with nothing changed."""
    if report.trade_state != "SUCCESS" or report.mchid != inbound.mchid:
        return None
    stored = notification_values(
        inbound,
        kind=NotificationKind.PAYMENT,
        verdict=Verdict.APPLIED.value,
        detail=payment_detail(report, Verdict.APPLIED.value),
        event_id=event_id,
    )
    now = inbound.received_at
    # paid_values() reads the order only for its payer, when the report names none: the
    # statement keeps the order's own then (COALESCE).
    paid = paid_values(cast(Order, SimpleNamespace(payer_openid=None)), report, now)
    values = {
        "out_trade_no": report.out_trade_no,
        "mchid": report.mchid,
        "appid": report.appid,
        "total": report.total,
        "now": now,
        "transaction_id": paid["transaction_id"],
        "paid_amount": paid["paid_amount"],
        "paid_at": paid["paid_at"],
        "payer_openid": paid["payer_openid"],
        "cause": f"notify.{inbound.api_version.value}",
        "event_detail": paid_detail(report),
        "outbox_id": services.ids.new("evt"),
        "created": int(now.timestamp()),
        **{key: stored[key] for key in _STORED},
    }
    written = await _SETTLE.rows(services.db, values)
    if not written:
        return None  # not the plain case, or a race lost: nothing was written
    [(notification_id, order_id)] = written
    return Receipt(Verdict.APPLIED, 204, stored["detail"], notification_id, order_id)


_STORED = (
    "received_at",
    "api_version",
    "kind",
    "event_id",
    "headers",
    "body",
    "verdict",
    "detail",
)
