"""How an order looks from outside: the API's JSON and the ``data`` of merchant events.

Amounts are integer fen; times are ISO 8601 in UTC. Nothing secret is ever in here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paydesk.db.models import Order


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, or None."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def order_view(order: Order) -> dict[str, Any]:
    """The public JSON of one order."""
    return {
        "id": order.id,
        "object": "order",
        "merchant_order_id": order.merchant_order_id,
        "out_trade_no": order.out_trade_no,
        "mchid": order.mchid,
        "appid": order.appid,
        "amount": order.amount,
        "currency": order.currency,
        "description": order.description,
        "attach": order.attach,
        "metadata": order.metadata_,
        "state": str(order.state),
        "payer": {"openid": order.payer_openid, "appid": order.payer_appid}
        if order.payer_openid or order.payer_appid
        else None,
        "user_id": order.user_id,
        "api_version": None if order.api_version is None else str(order.api_version),
        "transaction_id": order.transaction_id,
        "paid_amount": order.paid_amount,
        "refunded_amount": order.refunded_amount,
        "expires_at": iso(order.expires_at),
        "paid_at": iso(order.paid_at),
        "closed_at": iso(order.closed_at),
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }


def _iso_sql(column: str) -> str:
    # isoformat(): seconds, then ".ffffff" only when there are microseconds, then "Z".
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE"
        f" to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_part('microseconds', {column})::bigint % 1000000 <> 0"
        f" THEN to_char({utc}, '.US') ELSE '' END || 'Z' END"
    )


def order_view_sql(row: str) -> str:
    """:func:`order_view` as a PostgreSQL ``jsonb`` expression over the ``orders`` columns of
    ``row`` (a table or CTE name): the same keys and values, rendered by the database.

    The one-statement notification path writes an ``order.paid`` event without reading the
    order into Python first (``notifications/fastpath.py``). A change to :func:`order_view`
    must be made here too: ``tests/domain/orders/test_views.py`` renders both ways on
    PostgreSQL and compares them.

    >>> order_view_sql("o").startswith("jsonb_build_object('id', o.id, 'object', 'order'")
    True
    """
    plain = [
        "merchant_order_id",
        "out_trade_no",
        "mchid",
        "appid",
        "amount",
        "currency",
        "description",
        "attach",
        "metadata",
        "state",
    ]
    later = ["user_id", "api_version", "transaction_id", "paid_amount", "refunded_amount"]
    times = ["expires_at", "paid_at", "closed_at", "created_at", "updated_at"]
    payer = (
        f"CASE WHEN NULLIF({row}.payer_openid, '') IS NOT NULL"
        f" OR NULLIF({row}.payer_appid, '') IS NOT NULL"
        f" THEN jsonb_build_object('openid', {row}.payer_openid, 'appid', {row}.payer_appid) END"
    )
    pairs = [f"'id', {row}.id", "'object', 'order'"]
    pairs += [f"'{name}', {row}.{name}" for name in plain]
    pairs.append(f"'payer', {payer}")
    pairs += [f"'{name}', {row}.{name}" for name in later]
    pairs += [f"'{name}', {_iso_sql(f'{row}.{name}')}" for name in times]
    return f"jsonb_build_object({', '.join(pairs)})"
