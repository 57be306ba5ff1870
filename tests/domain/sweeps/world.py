"""A world for sweep tests: the stack on one pinned clock, orders in every state, WeChat's view.

The sandbox's wall clock *and* paydesk's clock are the same :class:`FixedClock`, so moving it
moves everything — paydesk's backoff and expiries, the sandbox's virtual time — while the
signatures of both sides still agree on the time.

    stack = await make_stack(clock=clock)
    paying = await paying_order(stack)          # an order with a Native prepay, PAYING
    await drop_notifications(stack)
    await pay_at_wechat(stack, paying)          # paid at WeChat, the notification lost
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from paydesk.db.enums import PaymentChannel
from paydesk.db.models import Anomaly, Order, OrderEvent, OutboxEvent, Refund
from paydesk.domain.payments.prepay import Payer, start_payment
from paydesk.domain.registry import Registry
from tests.stack import MINI_APPID, PUBLIC_KEY_MCHID, Stack

NOTIFY_PATH = "/api/v1/notify/"


@dataclass(frozen=True)
class Paying:
    """An order with one Native attempt at the sandbox."""

    order_id: str
    out_trade_no: str
    code_url: str


async def paying_order(
    stack: Stack, *, amount: int = 100, mchid: str = PUBLIC_KEY_MCHID, **fields: Any
) -> Paying:
    """An order created through the API and handed to WeChat (Native), so PAYING."""
    order = await stack.create_order(amount=amount, mchid=mchid, **fields)
    started = await start_payment(
        stack.services, order["id"], PaymentChannel.NATIVE, Payer(appid=MINI_APPID)
    )
    assert started.payment.code_url is not None
    return Paying(order["id"], started.payment.out_trade_no, started.payment.code_url)


async def sandbox(stack: Stack, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    """Call the sandbox's control API; returns the JSON (asserts 2xx)."""
    answer = await stack.sandbox_client.request(method, url, json=body)
    assert answer.status_code < 300, answer.text
    return answer.json()


async def fault(stack: Stack, **rule: Any) -> int:
    """Switch a sandbox fault on (``kind``, ``path``, ``times``…); returns the rule's id."""
    added = await sandbox(stack, "POST", "/_sandbox/faults", rule)
    rule_id: int = added["added"][0]["id"]
    return rule_id


async def drop_notifications(stack: Stack) -> None:
    """From now on every notification attempt to paydesk is lost."""
    await fault(stack, kind="drop", path=NOTIFY_PATH)


async def pay_at_wechat(stack: Stack, paying: Paying) -> dict[str, Any]:
    """The sandbox's payer pays the attempt (WeChat has the money)."""
    paid: dict[str, Any] = await sandbox(
        stack, "POST", "/_sandbox/pay", {"code_url": paying.code_url, "result": "SUCCESS"}
    )
    return paid


async def wechat_state(stack: Stack, out_trade_no: str) -> str:
    """The sandbox's ``trade_state`` of one trade number (expiry applied)."""
    order = stack.sandbox.pay.book.get(PUBLIC_KEY_MCHID, out_trade_no, stack.sandbox.clock.now())
    return str(order.state)


async def order_row(stack: Stack, order_id: str) -> Order:
    """Our order as stored."""
    async with stack.services.db() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def causes(stack: Stack, order_id: str) -> list[tuple[str | None, str, str]]:
    """``(from_state, to_state, cause)`` of every order_event, oldest first."""
    async with stack.services.db() as session:
        rows = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return [(e.from_state, e.to_state, e.cause) for e in rows]


async def outbox(stack: Stack, order_id: str) -> list[str]:
    """The types of the order's merchant events, sorted."""
    async with stack.services.db() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.order_id == order_id))
        return sorted(e.type for e in rows)


async def anomalies(stack: Stack, order_id: str) -> list[str]:
    """The kinds of the order's anomalies, sorted."""
    async with stack.services.db() as session:
        rows = await session.scalars(select(Anomaly.kind).where(Anomaly.order_id == order_id))
        return sorted(rows)


async def refunds_of(stack: Stack, order_id: str) -> list[Refund]:
    """The order's refunds, oldest first."""
    async with stack.services.db() as session:
        rows = await session.scalars(
            select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)
        )
        return list(rows)


def auto_refund(stack: Stack, *mchids: str) -> None:
    """Configure ``auto_refund_anomalies = true`` for these merchants of the stack."""
    config = stack.services.registry.config
    merchants = [
        m.model_copy(update={"auto_refund_anomalies": m.mchid in mchids}) for m in config.merchants
    ]
    stack.services.registry = Registry(
        config.model_copy(update={"merchants": merchants}), stack.services.registry.public_url
    )


class WeChatWithout:
    """``services.wechat`` as if merchant ``mchid`` had left the config: its calls raise the
    client's ``KeyError``; everything else goes to the real client."""

    def __init__(self, inner: Any, mchid: str) -> None:
        self.inner = inner
        self.mchid = mchid

    def pay_v3(self, mchid: str) -> Any:
        if mchid == self.mchid:
            raise KeyError(f"no merchant {mchid} is configured")
        return self.inner.pay_v3(mchid)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
