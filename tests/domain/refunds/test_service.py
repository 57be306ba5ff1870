"""request_refund and the reads: the PAID attempt's trade number, merchant scope, lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paydesk.db.enums import ApiVersion, OrderState, PaymentChannel, RefundState
from paydesk.db.models import Payment, Refund
from paydesk.domain.context import Services
from paydesk.domain.errors import NotFound
from paydesk.domain.ids import IdSource
from paydesk.domain.payments.prepay import Payer, start_payment
from paydesk.domain.payments.sync import sync_order
from paydesk.domain.refunds import get_refund, list_refunds, request_refund
from paydesk.domain.refunds.service import refund_ask
from paydesk.domain.registry import Registry
from paydesk.settings import PaydeskConfig
from tests.domain.refunds.conftest import MCHID, T0, PaidOrder
from tests.domain.refunds.flows import paid_order, settle_at_wechat, wechat_refunds
from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


async def test_the_refund_goes_to_the_attempt_that_was_paid(stack: Stack) -> None:
    order = await stack.create_order(amount=100)
    await start_payment(stack.services, order["id"], PaymentChannel.NATIVE, Payer(appid=MINI_APPID))
    # the payer switches to H5: a second attempt under a second trade number
    second = await start_payment(
        stack.services,
        order["id"],
        PaymentChannel.H5,
        Payer(appid=MINI_APPID, client_ip="203.0.113.7"),
    )
    number = second.payment.out_trade_no
    assert number != order["out_trade_no"]
    paid = await stack.sandbox_client.post(
        "/_sandbox/pay", json={"h5_url": second.payment.h5_url, "result": "SUCCESS"}
    )
    assert paid.status_code == 200, paid.text
    assert (await sync_order(stack.services, order["id"])).order.state == OrderState.PAID

    refund = await request_refund(stack.services, order["id"], amount=100)
    assert refund.state == RefundState.PROCESSING
    assert [r["out_refund_no"] for r in await wechat_refunds(stack, number)] == [
        refund.out_refund_no
    ]
    await settle_at_wechat(stack)
    async with stack.services.db() as session:
        done = await get_refund(session, refund.id, mchid=PUBLIC_KEY_MCHID)
    assert done.state == RefundState.SUCCESS


async def test_reads_are_scoped_to_the_merchant(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    refund = await request_refund(stack.services, order["id"], amount=10, mchid=PUBLIC_KEY_MCHID)
    with pytest.raises(NotFound):
        await request_refund(stack.services, order["id"], amount=10, mchid=CERTIFICATE_MCHID)
    async with stack.services.db() as session:
        assert (await get_refund(session, refund.id)).id == refund.id
        with pytest.raises(NotFound):
            await get_refund(session, refund.id, mchid=CERTIFICATE_MCHID)
        with pytest.raises(NotFound):
            await get_refund(session, "rfd_missing")
        ours, more = await list_refunds(session, mchid=PUBLIC_KEY_MCHID, order_id=order["id"])
        theirs, _ = await list_refunds(session, mchid=CERTIFICATE_MCHID)
    assert ([r.id for r in ours], more, theirs) == ([refund.id], False, [])


@dataclass
class _Only:
    registry: Registry


async def test_an_automatic_refund_is_asked_for_its_own_attempt(
    db: async_sessionmaker[AsyncSession], ids: IdSource, paid_order: PaidOrder
) -> None:
    order = await paid_order(amount=100)
    config = PaydeskConfig.model_validate({"merchants": [{"mchid": MCHID}]})
    services = cast("Services", _Only(Registry(config, "https://pay.example.com")))
    async with db.begin() as session:
        second = Payment(
            id=ids.new("pay"),
            order_id=order.id,
            out_trade_no="PD_SECOND_ATTEMPT",
            channel=PaymentChannel.NATIVE,
            api_version=ApiVersion.V3,
            appid="wx5a0d5a0d00000002",
            mchid=MCHID,
            params_hash="1" * 64,
            transaction_id="4299999999999999",
            expires_at=T0,
            created_at=T0,
        )
        session.add(second)
        await session.flush()
        automatic = Refund(
            id="rfd_auto",
            order_id=order.id,
            payment_id=second.id,
            out_refund_no="auto-PD_SECOND_ATTEMPT",
            amount=100,
            state=RefundState.PENDING,
            created_at=T0,
            updated_at=T0,
        )
        own = Refund(
            id="rfd_own",
            order_id=order.id,
            out_refund_no="R-OWN",
            amount=10,
            state=RefundState.PENDING,
            created_at=T0,
            updated_at=T0,
        )
        session.add_all([automatic, own])
    async with db() as session:
        ask = await refund_ask(services, session, automatic)
        usual = await refund_ask(services, session, own)
    assert (ask.out_trade_no, ask.appid, ask.amount, ask.total) == (
        "PD_SECOND_ATTEMPT",
        "wx5a0d5a0d00000002",
        100,
        100,
    )
    assert ask.notify_url == f"https://pay.example.com/api/v1/notify/wechatpay/v3/{MCHID}"
    assert (usual.out_trade_no, usual.appid) == (order.out_trade_no, order.appid)
