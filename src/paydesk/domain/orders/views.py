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
