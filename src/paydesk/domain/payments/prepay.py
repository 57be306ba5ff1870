"""Start, or resume, paying an order on one channel.

1. The order must be payable (CREATED/PAYING, not expired) by this payer through this app.
2. A still-valid prepay for the same parameters is reused: the client gets freshly signed
   parameters for it, and WeChat is not asked again.
3. Otherwise WeChat is asked — under the order's own trade number for the first attempt, or
   under the same number again for identical parameters (WeChat's re-entry). A *different*
   channel or payer needs a new trade number (WeChat refuses changed parameters under an old
   one): every open attempt is closed at WeChat first, so an old QR code or page can no longer
   be paid — which is what prevents a double payment.
4. The attempt is recorded and the order moves CREATED → PAYING, in one transaction.

No database transaction is held open while WeChat is being asked. On PostgreSQL the common
case (a new order's first attempt) reads and writes with prebuilt statements
(:mod:`paydesk.domain.payments.fastpath`); everything else takes the session way below.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.cache import SessionRecord
from paydesk.db.direct import postgresql_engine
from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel
from paydesk.db.models import Order, Payment
from paydesk.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from paydesk.domain.orders.states import transition
from paydesk.domain.payments import fastpath, remote
from paydesk.domain.payments.params import client_params
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.users.access import visible_to

if TYPE_CHECKING:
    from paydesk.domain.context import Services

PREPAY_TTL = timedelta(hours=2)  # prepay_id and code_url
H5_TTL = timedelta(minutes=5)  # h5_url
REUSE_MARGIN = timedelta(minutes=1)
NEEDS_OPENID = (PaymentChannel.MINIPROGRAM, PaymentChannel.JSAPI)
APP_TYPES = {
    PaymentChannel.MINIPROGRAM: ("miniprogram",),
    PaymentChannel.JSAPI: ("official_account",),
    PaymentChannel.H5: ("official_account", "web", "miniprogram"),
    PaymentChannel.NATIVE: ("official_account", "web", "miniprogram"),
    PaymentChannel.APP: ("app",),
}


@dataclass(frozen=True)
class Payer:
    """Who pays, through which app."""

    appid: str
    openid: str | None = None
    user_id: str | None = None
    client_ip: str | None = None
    h5_type: Literal["Wap", "iOS", "Android"] = "Wap"


@dataclass(frozen=True)
class PaymentStart:
    """The attempt, the parameters the client needs, and whether a prepay was reused."""

    payment: Payment
    params: dict[str, str]
    reused: bool


def _fingerprint(order: Order, channel: PaymentChannel, version: ApiVersion, payer: Payer) -> str:
    parts = [
        channel.value,
        version.value,
        payer.appid,
        payer.openid or "",
        str(order.amount),
        order.description,
        order.expires_at.isoformat(),
        payer.h5_type,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _check(order: Order, channel: PaymentChannel, payer: Payer, app_type: str) -> None:
    state = OrderState(order.state)
    if state != OrderState.CREATED and state != OrderState.PAYING:
        code = "order_closed" if state == OrderState.CLOSED else "order_paid"
        raise Conflict(code, f"order {order.id} is {state}; it cannot be paid", state=state.value)
    if app_type not in APP_TYPES[channel]:
        raise InvalidInput(
            "channel_not_for_app", f"a {app_type} app cannot pay through {channel.value}"
        )
    if channel in NEEDS_OPENID and not payer.openid:
        raise InvalidInput("openid_required", f"{channel.value} pay needs the payer's openid")
    if order.user_id and payer.user_id and order.user_id != payer.user_id:
        raise Forbidden("not_your_order", "this order belongs to another user")
    if order.payer_openid and payer.openid and order.payer_openid != payer.openid:
        raise Forbidden("not_your_order", "this order is for another payer")


def _next_trade_number(order: Order, attempts: list[Payment]) -> str:
    if not attempts:
        return order.out_trade_no
    suffix = f"-{len(attempts) + 1}"
    return order.out_trade_no[: 32 - len(suffix)] + suffix


async def start_payment(
    services: Services,
    order_id: str,
    channel: PaymentChannel,
    payer: Payer,
    *,
    mchid: str | None = None,
    user: SessionRecord | None = None,
    redirect_url: str | None = None,
) -> PaymentStart:
    """Start or resume paying ``order_id`` on ``channel`` (see the module docstring).

    ``mchid`` limits it to one merchant's orders (a merchant's call); ``user`` to the orders
    that mini program user may see (``order_for_user``'s rule, on the same read).
    """
    now = services.clock.now()
    order, attempts = await _order_and_attempts(services, order_id, mchid)
    if user is not None and (
        order.mchid not in services.registry.app(user.appid).merchants
        or not visible_to(order, attempts, user)
    ):
        raise NotFound("order_not_found", f"no order {order_id}")
    app = services.registry.check_binding(payer.appid, order.mchid)
    _check(order, channel, payer, app.type)
    if order.expires_at <= now + REUSE_MARGIN:
        from paydesk.domain.orders.closing import close_order

        await close_order(services, order_id, cause="pay.expired")
        raise Conflict("order_expired", f"order {order_id} has expired; create a new one")
    merchant = services.registry.merchant(order.mchid)
    version = ApiVersion(order.api_version or merchant.api_version)
    fingerprint = _fingerprint(order, channel, version, payer)
    same = [a for a in attempts if a.params_hash == fingerprint and a.closed_at is None]
    for attempt in reversed(same):
        answered = attempt.prepay_id or attempt.code_url or attempt.h5_url
        if answered and attempt.expires_at > now + REUSE_MARGIN and attempt.transaction_id is None:
            params = client_params(services, attempt, redirect_url=redirect_url)
            return PaymentStart(attempt, params, reused=True)
    if same:
        out_trade_no = same[-1].out_trade_no
    else:
        for attempt in (a for a in attempts if a.closed_at is None):
            if await remote.close(services, attempt) == "paid":
                await sync_order(services, order_id, cause="pay.found_paid")
                raise Conflict("order_paid", f"order {order_id} has already been paid")
            attempt.closed_at = now
        out_trade_no = _next_trade_number(order, attempts)
    ask = remote.PrepayAsk(
        order,
        channel,
        version,
        payer.appid,
        out_trade_no,
        payer.openid,
        payer.client_ip,
        payer.h5_type,
    )
    payment = await _reserve(services, order, attempts, ask, fingerprint)
    try:
        answer = await remote.prepay(services, ask)
    except remote.TradeFinished as finished:
        if finished.state == "paid":
            await sync_order(services, order_id, cause="pay.found_paid")
            raise Conflict("order_paid", f"order {order_id} has already been paid") from None
        from paydesk.domain.orders.closing import close_order

        await close_order(services, order_id, cause="pay.found_closed")
        raise Conflict("order_closed", f"order {order_id} was closed at WeChat") from None
    payment = await _store_answer(services, payment.id, ask.channel, answer, order)
    return PaymentStart(
        payment, client_params(services, payment, redirect_url=redirect_url), reused=False
    )


async def _order_and_attempts(
    services: Services, order_id: str, mchid: str | None
) -> tuple[Order, list[Payment]]:
    """The order (NotFound outside ``mchid``) and its attempts, oldest first, in one query."""
    found = await fastpath.read_order_and_attempts(services, order_id)
    if found is None or (mchid is not None and found[0].mchid != mchid):
        raise NotFound("order_not_found", f"no order {order_id}")
    return found


async def _current(session: AsyncSession, order: Order) -> Order:
    """``order`` locked and as it is now on PostgreSQL; as read just before on SQLite.

    Two first payments of one order at once would both insert the same trade number. On
    PostgreSQL the row lock makes the second wait, then see the first's attempt and the order
    PAYING. On SQLite ``BEGIN IMMEDIATE`` has serialised the writers already: the second sees
    the attempt, and ``transition``'s compare-and-set finds the order moved since it was read.
    """
    if session.get_bind().dialect.name != "postgresql":
        return order
    locked = await session.get(Order, order.id, with_for_update=True, populate_existing=True)
    return locked or order  # rows are never deleted


async def _reserve(
    services: Services,
    order: Order,
    attempts: list[Payment],
    ask: remote.PrepayAsk,
    fingerprint: str,
) -> Payment:
    """Record the attempt (and CREATED → PAYING) BEFORE asking WeChat, so a notification for
    this trade number always finds its attempt, however fast the payer is."""
    now = services.clock.now()
    new = Payment(
        id=services.ids.new("pay"),
        order_id=order.id,
        out_trade_no=ask.out_trade_no,
        channel=ask.channel,
        api_version=ask.version,
        appid=ask.appid,
        mchid=order.mchid,
        openid=ask.openid,
        params_hash=fingerprint,
        created_at=now,
        expires_at=min(now + PREPAY_TTL, order.expires_at),
    )
    cause = f"pay.{ask.channel.value}"
    detail = {"out_trade_no": ask.out_trade_no, "api_version": ask.version.value}
    first = not attempts and OrderState(order.state) == OrderState.CREATED
    if first and postgresql_engine(services.db) is not None:
        stored = await fastpath.reserve_first_attempt(
            services, order, new, now=now, cause=cause, detail=detail
        )
        if stored is not None:
            return stored
        # The order changed since it was read (a concurrent first payment?): decide below.
    async with services.db.begin() as session:
        current = await _current(session, order)
        for closed in (a for a in attempts if a.closed_at is not None):
            # Only closed_at: merging the copy read before WeChat was asked would write back
            # every column of it, over whatever changed since (a query's trade_state…).
            await session.execute(
                update(Payment)
                .where(Payment.id == closed.id, Payment.closed_at.is_(None))
                .values(closed_at=closed.closed_at)
            )
        payment = await session.scalar(
            select(Payment).where(Payment.out_trade_no == ask.out_trade_no)
        )
        if payment is None:
            payment = new
            session.add(payment)
        if OrderState(current.state) == OrderState.CREATED:
            try:
                await transition(
                    session,
                    order_id=order.id,
                    to=OrderState.PAYING,
                    cause=cause,
                    now=now,
                    ids=services.ids,
                    detail=detail,
                    values={"api_version": ask.version},
                    seen=current,
                )
            except Conflict as exc:
                raise Conflict(
                    "order_not_payable",
                    f"order {order.id} changed state while starting the payment; fetch it again",
                    **exc.details,
                ) from exc
        await session.flush()
        return payment


async def _store_answer(
    services: Services,
    payment_id: str,
    channel: PaymentChannel,
    answer: remote.PrepayAnswer,
    order: Order,
) -> Payment:
    now = services.clock.now()
    ttl = H5_TTL if channel == PaymentChannel.H5 else PREPAY_TTL
    expires_at = min(now + ttl, order.expires_at)
    answered = {"prepay_id": answer.prepay_id, "code_url": answer.code_url, "h5_url": answer.h5_url}
    payment = await fastpath.store_answer(services, payment_id, **answered, expires_at=expires_at)
    if payment is None:  # rows are never deleted
        raise Conflict("payment_vanished", f"payment {payment_id} disappeared")
    return payment
