"""A virtual payment is paid: apply WeChat's ``xpay_goods_deliver_notify`` push, exactly once.

``wx.requestVirtualPayment`` (:mod:`.virtual`) has no query API for paydesk to ask, and no
pay notification: WeChat confirms the purchase only by this message push to the mini
program's push URL (PROTOCOL.md §4.7; :mod:`paydesk.protocol.messages.xpay` for its fields
and their sourcing). Once the push is verified (``paydesk.domain.push.receive``), one
transaction:

1. records it in ``push_messages`` under ``xpay:<OutTradeNo>:<payment id>`` — a copy WeChat
   sends again (it retries until it reads ``ErrCode`` 0) finds the row and changes nothing;
2. finds the attempt by ``OutTradeNo`` among this app's ``virtual`` attempts — none is an
   ``unknown_order`` anomaly;
3. checks what only a virtual payment has: the buyer is the attempt's openid, ``Env`` is the
   one paydesk signs with (:func:`~.virtual.virtual_env`), ``ProductId`` is the order's
   ``metadata.virtual_product_id``, one item — a difference is an anomaly, order untouched;
4. hands the rest to :func:`~.settle.settle` as a SUCCESS :class:`~.settle.TradeReport`
   (merchant and app from our own attempt, amount = ``ActualPrice``, transaction id =
   ``TransactionId`` or else ``MchOrderNo``, time = ``PaidTime``): the same checks (amount),
   the same one transition PAYING → PAID with its order_event and ``order.paid`` outbox row,
   the same duplicates and late-payment anomalies as a WeChat Pay notification.

The caller answers WeChat only after this commit, so a failure (the database) is retried by
WeChat, and nothing is lost if the process dies::

    verdict = await apply_goods_deliver(services, app, event, message.raw)
    verdict   # "applied", "duplicate", "anomaly:openid_mismatch", …
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from paydesk.db.enums import PaymentChannel
from paydesk.db.models import Order, Payment, PushMessage
from paydesk.domain.anomalies import record_anomaly
from paydesk.domain.notifications.receipts import anomaly, verdict_for
from paydesk.domain.payments.settle import TradeReport, settle
from paydesk.domain.payments.virtual import PRODUCT_KEY, virtual_env
from paydesk.domain.push.inbox import stored_key
from paydesk.protocol.messages import GoodsDeliverNotify
from paydesk.settings import AppConfig

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from paydesk.domain.context import Services

__all__ = ["CAUSE", "apply_goods_deliver", "deliver_key", "virtual_mismatch"]

#: The order_event ``cause`` of a virtual payment's PAID.
CAUSE = "push.xpay"
_ID_LENGTH = 32  # payments.transaction_id


def deliver_key(event: GoodsDeliverNotify) -> str:
    """The ``push_messages`` key of the event: the same for every copy WeChat sends.

    >>> deliver_key(GoodsDeliverNotify(to_user="gh", from_user="o", create_time=1, openid="o",
    ...     out_trade_no="T1", env=0, mch_order_no=None, transaction_id="42", paid_time=None,
    ...     product_id="p", quantity=1, orig_price=None, actual_price=1))
    'xpay:T1:42'
    """
    return stored_key(f"xpay:{event.out_trade_no}:{event.payment_id}")


def virtual_mismatch(
    order: Order, payment: Payment, event: GoodsDeliverNotify, env: int
) -> tuple[str, dict[str, object]] | None:
    """The anomaly (kind, detail) when the event is not what paydesk asked WeChat for."""
    checks: list[tuple[str, object, object]] = [
        ("openid_mismatch", payment.openid, event.openid),
        ("env_mismatch", env, event.env),
        ("product_mismatch", order.metadata_.get(PRODUCT_KEY), event.product_id),
        ("quantity_mismatch", 1, event.quantity),
    ]
    for kind, ours, reported in checks:
        if ours != reported:
            return kind, {"ours": ours, "reported": reported}
    if len(event.payment_id) > _ID_LENGTH:
        return "transaction_id_invalid", {"reported": event.payment_id[:64]}
    return None


def _report(payment: Payment, event: GoodsDeliverNotify) -> TradeReport:
    paid_at = None
    if event.paid_time is not None:
        paid_at = datetime.fromtimestamp(event.paid_time, UTC)
    return TradeReport(
        mchid=payment.mchid,
        appid=payment.appid,
        out_trade_no=event.out_trade_no,
        trade_state="SUCCESS",
        transaction_id=event.payment_id,
        total=event.actual_price,
        payer_total=event.actual_price,
        openid=event.openid,
        success_time=paid_at,
    )


async def _settle_event(
    services: Services,
    session: AsyncSession,
    app: AppConfig,
    event: GoodsDeliverNotify,
    now: datetime,
) -> str:
    found = (
        await session.execute(
            select(Payment, Order)
            .join(Order, Order.id == Payment.order_id)
            .where(
                Payment.out_trade_no == event.out_trade_no,
                Payment.appid == app.appid,
                Payment.channel == PaymentChannel.VIRTUAL,
            )
        )
    ).first()
    evidence = {"out_trade_no": event.out_trade_no, "transaction_id": event.payment_id}
    if found is None:
        # No attempt names a merchant: the app's first bound one is told.
        await record_anomaly(
            session,
            kind="unknown_order",
            mchid=app.merchants[0],
            detail={**evidence, "appid": app.appid, "cause": CAUSE},
            now=now,
            ids=services.ids,
        )
        return anomaly("unknown_order")
    payment, order = found[0], found[1]
    problem = virtual_mismatch(order, payment, event, virtual_env(services))
    if problem is not None:
        kind, detail = problem
        await record_anomaly(
            session,
            kind=kind,
            mchid=order.mchid,
            order_id=order.id,
            detail={**detail, **evidence, "cause": CAUSE},
            now=now,
            ids=services.ids,
        )
        return anomaly(kind)
    settled = await settle(session, _report(payment, event), cause=CAUSE, now=now, ids=services.ids)
    return verdict_for(settled)


async def _taken_before(services: Services, appid: str, key: str) -> bool:
    async with services.db() as session:
        return await session.get(PushMessage, (appid, key)) is not None


async def apply_goods_deliver(
    services: Services, app: AppConfig, event: GoodsDeliverNotify, payload: dict[str, Any]
) -> str:
    """Apply a verified event in one transaction (module docstring); the verdict.

    Raises whatever the database raises: nothing was committed then, and WeChat must retry.
    """
    key = deliver_key(event)
    if await _taken_before(services, app.appid, key):
        return "duplicate"
    now = services.clock.now()
    try:
        async with services.db.begin() as session:
            session.add(
                PushMessage(
                    appid=app.appid,
                    dedupe_key=key,
                    received_at=now,
                    payload=dict(payload),
                    handled_at=now,
                )
            )
            await session.flush()  # a copy racing this one waits here, then fails on the key
            return await _settle_event(services, session, app, event, now)
    except IntegrityError:
        if await _taken_before(services, app.appid, key):
            return "duplicate"
        raise
