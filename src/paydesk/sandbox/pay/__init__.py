"""The sandbox's Pay part: Pay v3 and v2, the simulated payer, notifications, faults, bills.

:class:`PayWorld` owns one order book (v2 and v3 orders together, keyed by
``(mchid, out_trade_no)``), the notification :class:`~.delivery.Dispatcher`, the
:class:`~paydesk.sandbox.faults.FaultPlan` and the routes: WeChat's own paths (``/v3/…``,
``/pay/…``, ``/secapi/pay/refund``), the control API (``/_sandbox/pay``, ``/notifications``,
``/faults``, ``/refund-outcome``, ``/orders``) and the pages for people (pay sheets, the log,
``jsbridge.js``). See the sandbox README for every path with an example.

Tests drive virtual time and then deliver what fell due::

    sandbox.clock.advance(15)
    attempts = await sandbox.pay.run_due()
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from paydesk.sandbox.faults import FaultPlan
from paydesk.sandbox.pay import (
    control,
    pages,
    v2_orders,
    v2_refunds,
    v3_abnormal,
    v3_misc,
    v3_orders,
    v3_refunds,
)
from paydesk.sandbox.pay.book import OrderBook
from paydesk.sandbox.pay.delivery import DEFAULT_TIMEOUT_SECONDS, Dispatcher
from paydesk.sandbox.pay.ids import Ids
from paydesk.sandbox.pay.merchants import Merchants
from paydesk.sandbox.pay.model import Order, RefundRecord, RefundState
from paydesk.sandbox.pay.notices import Notices
from paydesk.sandbox.pay.records import Delivery

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

__all__ = ["DEFAULT_REFUND_DELAY_SECONDS", "PayWorld"]

#: Virtual seconds a refund stays PROCESSING before it settles.
DEFAULT_REFUND_DELAY_SECONDS = 5.0


class PayWorld:
    """Everything WeChat Pay is, in one process: orders, payer, notifications, faults."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.faults = FaultPlan()
        self.ids = Ids(sandbox.random_string)
        self.merchants = Merchants(sandbox.credentials)
        self.book = OrderBook(self.ids)
        self.notices = Notices(ids=self.ids, clock=sandbox.clock)
        self.dispatcher = Dispatcher(
            clock=sandbox.clock,
            http=sandbox.http,
            faults=self.faults,
            before_pass=self.settle_due_refunds,
        )
        #: virtual seconds between a refund's acceptance and its outcome
        self.refund_delay_seconds = DEFAULT_REFUND_DELAY_SECONDS
        #: bill download token → (mchid, file bytes)
        self.bills: dict[str, tuple[str, bytes]] = {}

    def now(self) -> datetime:
        """Virtual now."""
        return self.sandbox.clock.now()

    # -- SandboxPart -------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """WeChat's pay paths, the pay control API and the pay pages."""
        found: list[BaseRoute] = []
        modules = (
            v3_orders,
            v3_refunds,
            v3_abnormal,
            v3_misc,
            v2_orders,
            v2_refunds,
            control,
            pages,
        )
        for module in modules:
            found.extend(module.routes(self))
        return found

    def reset(self) -> None:
        """Forget orders, refunds, deliveries, bills and faults (credentials stay)."""
        self.book = OrderBook(self.ids)
        self.dispatcher.reset()
        self.faults.clear()
        self.bills.clear()
        self.refund_delay_seconds = DEFAULT_REFUND_DELAY_SECONDS
        self.dispatcher.timeout_seconds = DEFAULT_TIMEOUT_SECONDS

    async def start(self) -> None:
        """Start the notification dispatcher."""
        await self.dispatcher.start()

    async def stop(self) -> None:
        """Stop the dispatcher; queued notifications stay queued."""
        await self.dispatcher.stop()

    # -- time --------------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Settle due refunds and make every notification attempt due by virtual now.

        Returns how many delivery attempts were made.
        """
        return await self.dispatcher.run_due()

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a test helper's bound
        """Wait until no notification attempt is due or in flight."""
        await self.dispatcher.drain(timeout)

    # -- notifications -----------------------------------------------------------------------

    def notify_payment(self, order: Order) -> Delivery:
        """Queue the payment notification of a freshly paid order."""
        merchant = self.merchants.require(order.draft.mchid)
        return self.dispatcher.enqueue(self.notices.payment(merchant, order))

    def settle_refund(self, refund: RefundRecord, status: RefundState) -> Delivery:
        """Give a PROCESSING refund its outcome and queue its notification."""
        order = self.book.get(refund.mchid, refund.out_trade_no, self.now())
        self.book.settle(refund, status, self.now())
        merchant = self.merchants.require(refund.mchid)
        return self.dispatcher.enqueue(self.notices.refund(merchant, order, refund))

    def settle_due_refunds(self) -> None:
        """Settle every refund whose time has come (forced outcome, else SUCCESS)."""
        for refund in self.book.due_refunds(self.now()):
            self.settle_refund(refund, refund.forced or "SUCCESS")
