"""The order book: every order and refund of every merchant, and the rules that move them.

Orders (PROTOCOL.md §1.7): prepay → ``NOTPAY`` with a prepay id valid 2 h and an order expiry
from ``time_expire`` (default 7 days); re-entry with identical parameters returns the same
prepay (a fresh prepay id once the old one lapsed), other parameters are refused; pay →
``SUCCESS``; close → ``CLOSED`` (again: fine; paid: ``ORDER_PAID``); expiry → ``CLOSED``;
refund → ``REFUND``. Refunds start ``PROCESSING`` and settle on virtual time; an ``ABNORMAL``
one sent elsewhere (``apply-abnormal-refund``) is ``PROCESSING`` again and settles the same way.

Every method takes virtual ``now``; nothing here reads a clock or does I/O::

    >>> book = OrderBook(Ids(lambda n, alphabet: alphabet[0] * n))
    >>> book.orders()
    []
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from paydesk.sandbox.pay.ids import Ids
from paydesk.sandbox.pay.model import (
    AbnormalRedirect,
    ApiVersion,
    Order,
    OrderDraft,
    RefundRecord,
    RefundState,
)
from paydesk.sandbox.pay.refusals import (
    amount_mismatch,
    not_enough,
    order_closed,
    order_not_exist,
    order_paid,
    out_trade_no_used,
    param_error,
    reentry_mismatch,
    refund_not_abnormal,
    refund_order_not_exist,
)

__all__ = ["H5_VALIDITY", "MAX_ORDER_LIFETIME", "PREPAY_VALIDITY", "OrderBook"]

#: A prepay id can be paid for 2 hours (PROTOCOL.md §1.7 "Lifetimes").
PREPAY_VALIDITY = timedelta(hours=2)
#: An ``h5_url`` opens the pay sheet for 5 minutes.
H5_VALIDITY = timedelta(minutes=5)
#: Orders expire after 7 days unless ``time_expire`` says sooner (later values are clamped).
MAX_ORDER_LIFETIME = timedelta(days=7)
#: ``time_expire`` must leave at least a minute to pay.
MIN_ORDER_LIFETIME = timedelta(minutes=1)


class OrderBook:
    """In-memory orders and refunds with WeChat's state rules; ids come from ``ids``."""

    def __init__(self, ids: Ids) -> None:
        self._ids = ids
        self._orders: dict[tuple[str, str], Order] = {}
        self._by_prepay: dict[str, Order] = {}
        self._by_code: dict[str, Order] = {}
        self._by_transaction: dict[tuple[str, str], Order] = {}
        self._refunds: dict[tuple[str, str], RefundRecord] = {}
        self._by_refund_id: dict[tuple[str, str], RefundRecord] = {}
        self._armed: dict[str, RefundState] = {}

    # -- orders ------------------------------------------------------------------------------

    def orders(self) -> list[Order]:
        """Every order, oldest first."""
        return list(self._orders.values())

    def place(self, draft: OrderDraft, now: datetime) -> Order:
        """Create the order of a prepay request, or answer its re-entry."""
        known = self._orders.get((draft.mchid, draft.out_trade_no))
        if known is not None:
            return self._reenter(known, draft, now)
        expire = now + MAX_ORDER_LIFETIME
        if draft.time_expire is not None:
            if draft.time_expire - now < MIN_ORDER_LIFETIME:
                field = "/time_expire" if draft.api == "v3" else "time_expire"
                raise param_error(field, "time_expire 须晚于当前时间至少 1 分钟")
            expire = min(expire, draft.time_expire)
        order = Order(
            draft=draft,
            created_at=now,
            time_expire=expire,
            prepay_id="",
            prepay_expires_at=now,
        )
        self._new_prepay(order, now)
        order.history.append((now, f"{draft.api} prepay {draft.trade_type} → NOTPAY"))
        self._orders[order.key] = order
        return order

    def _new_prepay(self, order: Order, now: datetime) -> None:
        # Lapsed prepay ids stay known: paying one is "expired", not "unknown".
        order.prepay_id = self._ids.prepay_id(now)
        order.prepay_expires_at = min(now + PREPAY_VALIDITY, order.time_expire)
        self._by_prepay[order.prepay_id] = order
        if order.draft.trade_type == "NATIVE" and order.code is None:
            order.code = self._ids.code()
            self._by_code[order.code] = order
        if order.draft.trade_type == "MWEB":
            order.h5_package = self._ids.h5_package()
            order.h5_expires_at = min(now + H5_VALIDITY, order.prepay_expires_at)

    def _reenter(self, order: Order, draft: OrderDraft, now: datetime) -> Order:
        self.expire(order, now)
        if order.paid:
            raise order_paid()
        if order.state == "CLOSED":
            raise order_closed()
        if (order.draft.api, order.draft.trade_type) != (draft.api, draft.trade_type):
            raise out_trade_no_used()
        if order.draft.fingerprint != draft.fingerprint:
            raise reentry_mismatch()
        if now >= order.prepay_expires_at:
            self._new_prepay(order, now)
            order.history.append((now, "re-entry after the prepay lapsed → new prepay id"))
        else:
            order.history.append((now, "re-entry with identical parameters → same prepay"))
        return order

    def expire(self, order: Order, now: datetime) -> None:
        """Close an unpaid order whose time is up (WeChat closes expired orders itself)."""
        if order.state == "NOTPAY" and now >= order.time_expire:
            order.state = "CLOSED"
            order.closed_at = order.time_expire
            order.history.append((order.time_expire, "expired → CLOSED"))

    def get(self, mchid: str, out_trade_no: str, now: datetime) -> Order:
        """The merchant's order by ``out_trade_no``; ``ORDER_NOT_EXIST`` otherwise."""
        order = self._orders.get((mchid, out_trade_no))
        if order is None:
            raise order_not_exist()
        self.expire(order, now)
        return order

    def get_by_transaction(self, mchid: str, transaction_id: str, now: datetime) -> Order:
        """The merchant's paid order by WeChat's ``transaction_id``."""
        order = self._by_transaction.get((mchid, transaction_id))
        if order is None:
            raise order_not_exist()
        return order

    def by_prepay(self, prepay_id: str, now: datetime) -> Order | None:
        """The order a prepay id belongs to (current or lapsed), if any."""
        order = self._by_prepay.get(prepay_id)
        if order is not None:
            self.expire(order, now)
        return order

    def by_code(self, code: str, now: datetime) -> Order | None:
        """The Native order behind a ``code_url``'s ``pr`` code, if any."""
        order = self._by_code.get(code)
        if order is not None:
            self.expire(order, now)
        return order

    def close(self, order: Order, now: datetime) -> None:
        """Close an unpaid order; closing a closed one again is fine, a paid one is not."""
        self.expire(order, now)
        if order.paid:
            raise order_paid()
        if order.state == "NOTPAY":
            order.state = "CLOSED"
            order.closed_at = now
            order.history.append((now, "closed by the merchant → CLOSED"))

    def mark_paid(self, order: Order, openid: str, now: datetime) -> None:
        """The payer paid: ``SUCCESS`` with a transaction id, success time and payer."""
        order.state = "SUCCESS"
        order.transaction_id = self._ids.transaction_id(now)
        order.success_time = now
        order.paid_openid = openid
        self._by_transaction[(order.draft.mchid, order.transaction_id)] = order
        order.history.append((now, f"paid by {openid} → SUCCESS"))

    # -- refunds -----------------------------------------------------------------------------

    def refund(self, mchid: str, out_refund_no: str) -> RefundRecord | None:
        """The merchant's refund by ``out_refund_no``, if any."""
        return self._refunds.get((mchid, out_refund_no))

    def refund_by_id(self, mchid: str, refund_id: str) -> RefundRecord | None:
        """The merchant's refund by WeChat's ``refund_id``, if any."""
        return self._by_refund_id.get((mchid, refund_id))

    def find_refunds(self, out_refund_no: str) -> list[RefundRecord]:
        """Every merchant's refund with this number (for the control API)."""
        return [r for (_, no), r in self._refunds.items() if no == out_refund_no]

    def refunds_of(self, order: Order) -> list[RefundRecord]:
        """The refunds of ``order``, oldest first."""
        return [self._refunds[(order.draft.mchid, no)] for no in order.refund_keys]

    def refunds(self) -> list[RefundRecord]:
        """Every refund, oldest first."""
        return list(self._refunds.values())

    def create_refund(
        self,
        *,
        api: ApiVersion,
        order: Order,
        out_refund_no: str,
        refund: int,
        total: int,
        fingerprint: dict[str, Any],
        now: datetime,
        settle_after: float,
        notify_url: str | None = None,
        reason: str | None = None,
    ) -> tuple[RefundRecord, bool]:
        """Accept a refund (``PROCESSING``) or answer its retry; True when it is new."""
        mchid = order.draft.mchid
        known = self._refunds.get((mchid, out_refund_no))
        if known is not None:
            if known.fingerprint != fingerprint or known.out_trade_no != order.draft.out_trade_no:
                raise reentry_mismatch()
            return known, False
        if not order.paid or order.transaction_id is None:
            raise refund_order_not_exist()
        if total != order.draft.total:
            raise amount_mismatch("/amount/total" if api == "v3" else "total_fee")
        if refund + self.refunded(order) > order.draft.total:
            raise not_enough()
        record = RefundRecord(
            api=api,
            mchid=mchid,
            out_refund_no=out_refund_no,
            out_trade_no=order.draft.out_trade_no,
            transaction_id=order.transaction_id,
            refund_id=self._ids.refund_id(now),
            refund=refund,
            total=total,
            created_at=now,
            settle_at=now + timedelta(seconds=settle_after),
            fingerprint=fingerprint,
            notify_url=notify_url,
            reason=reason,
            forced=self._armed.pop(out_refund_no, None),
        )
        self._refunds[(mchid, out_refund_no)] = record
        self._by_refund_id[(mchid, record.refund_id)] = record
        order.refund_keys.append(out_refund_no)
        order.state = "REFUND"
        order.history.append((now, f"refund {out_refund_no} of {refund} fen → REFUND"))
        return record, True

    def refunded(self, order: Order) -> int:
        """Fen refunded or being refunded (closed refunds give their amount back)."""
        return sum(r.refund for r in self.refunds_of(order) if r.status != "CLOSED")

    def due_refunds(self, now: datetime) -> list[RefundRecord]:
        """Refunds still ``PROCESSING`` whose settle time has come."""
        return [
            r for r in self._refunds.values() if r.status == "PROCESSING" and r.settle_at <= now
        ]

    def settle(self, refund: RefundRecord, status: RefundState, now: datetime) -> None:
        """Move a ``PROCESSING`` refund to its final status."""
        refund.status = status
        if status == "SUCCESS":
            refund.success_time = now
        order = self._orders[(refund.mchid, refund.out_trade_no)]
        order.history.append((now, f"refund {refund.out_refund_no} → {status}"))

    def redirect_abnormal(
        self, refund: RefundRecord, redirect: AbnormalRedirect, now: datetime, settle_after: float
    ) -> None:
        """Send an ``ABNORMAL`` refund elsewhere: ``PROCESSING`` again, settling like a new one.

        The outcome forced on the first attempt is spent; one armed since applies instead.
        """
        if refund.status != "ABNORMAL":
            raise refund_not_abnormal(refund.status)
        refund.redirect = redirect
        refund.status = "PROCESSING"
        refund.settle_at = now + timedelta(seconds=settle_after)
        refund.forced = self._armed.pop(refund.out_refund_no, None)
        order = self._orders[(refund.mchid, refund.out_trade_no)]
        where = f"{redirect.type} {redirect.received_account}"
        order.history.append((now, f"refund {refund.out_refund_no} sent to {where} → PROCESSING"))

    def arm(self, out_refund_no: str, status: RefundState) -> None:
        """Decide the outcome of a refund that does not exist yet."""
        self._armed[out_refund_no] = status
