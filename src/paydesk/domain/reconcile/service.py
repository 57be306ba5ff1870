"""Reconcile a day: download each merchant's trade bill, diff it with our ledger, record it.

``await reconcile(services, date(2026, 3, 1))`` runs, per merchant (or the one asked for):

1. download the day's ``ALL`` bill — ``services.wechat.pay_v3(mchid).trade_bill(day)``, whose
   SHA1 the client checks (the file itself is not signed);
2. parse it (:mod:`~.bill`) and read our side of the day (:mod:`~.ledger`);
3. diff (:mod:`~.diff`) and record each difference as a ``reconcile_<kind>`` anomaly, with its
   ``anomaly.created`` merchant event. Reconciling a day again records only what is new: a
   difference already recorded and not yet resolved is not recorded twice.

A merchant whose bill cannot be had (not ready yet — WeChat makes it after 10:00 the next day —
no APIv3 credentials, WeChat failing) gets an ``error`` instead, and the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk import client
from paydesk.db.models import Anomaly
from paydesk.domain.anomalies import record_anomaly
from paydesk.domain.errors import UpstreamFailed
from paydesk.domain.ids import IdSource
from paydesk.domain.reconcile.bill import TradeBill, parse_trade_bill
from paydesk.domain.reconcile.diff import Difference, diff_bill
from paydesk.domain.reconcile.ledger import load_ledger

if TYPE_CHECKING:
    from datetime import datetime

    from paydesk.domain.context import Services

__all__ = ["MerchantReconciliation", "Reconciliation", "reconcile", "record_differences"]

#: WeChat's answer for a bill that does not exist (yet): the day is today, or too recent.
NOT_READY_CODES = frozenset({"NO_STATEMENT_EXIST", "STATEMENT_CREATING"})


@dataclass(frozen=True)
class MerchantReconciliation:
    """One merchant's day: the bill (when it could be had), the differences, what was new."""

    mchid: str
    day: date
    bill: TradeBill | None = None
    differences: tuple[Difference, ...] = ()
    recorded: int = 0  #: anomalies recorded by this run (the rest were recorded before)
    error: str | None = None  #: why the bill could not be reconciled


@dataclass(frozen=True)
class Reconciliation:
    """A day for every merchant reconciled."""

    day: date
    merchants: tuple[MerchantReconciliation, ...]

    @property
    def differences(self) -> list[Difference]:
        """Every merchant's differences."""
        return [d for m in self.merchants for d in m.differences]

    @property
    def errors(self) -> list[str]:
        """``"<mchid>: <why>"`` for each merchant that could not be reconciled."""
        return [f"{m.mchid}: {m.error}" for m in self.merchants if m.error is not None]

    @property
    def fen_difference(self) -> int:
        """The fen the bills and paydesk are apart, over every line."""
        return sum(d.fen for d in self.differences)


async def reconcile(services: Services, day: date, *, mchid: str | None = None) -> Reconciliation:
    """Reconcile ``day`` for ``mchid`` (NotFound if not configured), or for every merchant."""
    chosen = [mchid] if mchid is not None else [m.mchid for m in services.registry.merchants]
    for one in chosen:
        services.registry.merchant(one)  # an unknown merchant is an error, not an empty day
    return Reconciliation(day, tuple([await _merchant(services, day, one) for one in chosen]))


async def _download(services: Services, day: date, mchid: str) -> bytes | str:
    """The bill's bytes, or why there is none."""
    try:
        return await services.wechat.pay_v3(mchid).trade_bill(day)
    except KeyError:
        return "no APIv3 credentials are configured for this merchant"
    except client.WeChatApiError as exc:
        if exc.code in NOT_READY_CODES:
            return f"WeChat has no bill for {day} yet ({exc.code}): try after 10:00 the next day"
        return f"WeChat refused the bill: {exc.code}: {exc.message}"
    except client.WeChatError as exc:
        return f"the bill could not be downloaded: {exc}"


async def _merchant(services: Services, day: date, mchid: str) -> MerchantReconciliation:
    data = await _download(services, day, mchid)
    if isinstance(data, str):
        return MerchantReconciliation(mchid, day, error=data)
    try:
        bill = parse_trade_bill(data)
    except UpstreamFailed as exc:
        return MerchantReconciliation(mchid, day, error=exc.message)
    async with services.db() as session:
        ledger = await load_ledger(session, mchid=mchid, day=day, bill=bill)
    differences = tuple(diff_bill(bill, ledger))
    async with services.db.begin() as session:
        recorded = await record_differences(
            session,
            differences,
            mchid=mchid,
            day=day,
            now=services.clock.now(),
            ids=services.ids,
        )
    return MerchantReconciliation(mchid, day, bill, differences, recorded)


def _detail(difference: Difference, day: date) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "item": difference.item,
        "reference": difference.reference,
        "ours_amount": difference.ours_amount,
        "theirs_amount": difference.theirs_amount,
        "ours_state": difference.ours_state,
        "theirs_state": difference.theirs_state,
    }


def _key(kind: str, detail: dict[str, Any]) -> tuple[Any, ...]:
    return (kind, detail.get("day"), detail.get("item"), detail.get("reference"))


async def record_differences(
    session: AsyncSession,
    differences: tuple[Difference, ...],
    *,
    mchid: str,
    day: date,
    now: datetime,
    ids: IdSource,
) -> int:
    """Record each difference not already open as an anomaly; returns how many were new."""
    open_ones = await session.execute(
        select(Anomaly.kind, Anomaly.detail).where(
            Anomaly.mchid == mchid,
            Anomaly.kind.like("reconcile\\_%", escape="\\"),
            Anomaly.resolved_at.is_(None),
        )
    )
    seen = {_key(kind, detail) for kind, detail in open_ones}
    recorded = 0
    for difference in differences:
        kind, detail = f"reconcile_{difference.kind}", _detail(difference, day)
        if _key(kind, detail) in seen:
            continue
        seen.add(_key(kind, detail))
        await record_anomaly(
            session,
            kind=kind,
            mchid=mchid,
            order_id=difference.order_id,
            detail=detail,
            now=now,
            ids=ids,
        )
        recorded += 1
    return recorded
