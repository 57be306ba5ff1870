"""Anomalies: anything a person must look at. Recorded with an ``anomaly.created`` event.

Kinds: ``amount_mismatch``, ``merchant_mismatch``, ``app_mismatch``, ``unknown_order``,
``paid_after_close``, ``double_payment``, ``refund_mismatch``, ``reconcile_*``; from virtual
payment's push (``payments/virtual_paid.py``) also ``openid_mismatch``, ``env_mismatch``,
``product_mismatch``, ``quantity_mismatch`` and ``transaction_id_invalid``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.models import Anomaly
from paydesk.domain.ids import IdSource
from paydesk.domain.orders.views import iso
from paydesk.domain.outbox import add_event


async def record_anomaly(
    session: AsyncSession,
    *,
    kind: str,
    mchid: str,
    detail: dict[str, Any],
    now: datetime,
    ids: IdSource,
    order_id: str | None = None,
    refund_id: str | None = None,
) -> Anomaly:
    """Add an anomaly and its merchant event in the caller's transaction."""
    row = Anomaly(
        id=ids.new("anm"),
        kind=kind,
        mchid=mchid,
        order_id=order_id,
        refund_id=refund_id,
        detail=detail,
        created_at=now,
    )
    session.add(row)
    await add_event(
        session,
        ids=ids,
        type="anomaly.created",
        mchid=mchid,
        order_id=order_id,
        refund_id=refund_id,
        now=now,
        data={
            "id": row.id,
            "object": "anomaly",
            "kind": kind,
            "order_id": order_id,
            "refund_id": refund_id,
            "detail": detail,
            "created_at": iso(now),
        },
    )
    return row
