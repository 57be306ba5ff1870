"""A virtual payment reaches PAID: the user starts it at paydesk, the sandbox client pays it,
and WeChat's ``xpay_goods_deliver_notify`` push to ``/wechat/push/{appid}`` is applied once —
answered ``{"ErrCode": 0}`` only after its commit; copies, forgeries, inconsistent events and
a failing database each do what WeChat and the merchant need."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from paydesk.api.routes import push
from paydesk.db.models import Anomaly, Order, OrderEvent, OutboxEvent, Payment, PushMessage
from paydesk.domain.push import xpay
from paydesk.domain.users.tokens import digest
from paydesk.protocol.messages import (
    goods_deliver_fields,
    parse_goods_deliver,
    push_signature,
    render_push,
)
from paydesk.protocol.virtual_payment import virtual_payment_params
from paydesk.sandbox.identity.push_build import original_id, seal_push
from paydesk.sandbox.pay.records import Delivery
from paydesk.sandbox.pay.retry import RETRY_GAPS
from tests.domain.push.support import point_pushes_at_paydesk
from tests.domain.users.support import LoggedIn, add_fault, log_in, pay
from tests.stack import MINI_APPID, Stack

pytestmark = pytest.mark.backends

PRODUCT = {"virtual_product_id": "gold_monthly"}
PUSH_PATH = f"/wechat/push/{MINI_APPID}"
ACK = {"ErrCode": 0, "ErrMsg": "success"}


@pytest.fixture
async def stack(users: Stack) -> Stack:
    """A user stack whose mini program's pushes reach paydesk."""
    await point_pushes_at_paydesk(users)
    return users


@dataclass(frozen=True)
class Started:
    """An order being paid virtually by ``user``: the parameters paydesk signed."""

    order: dict[str, Any]
    user: LoggedIn
    params: dict[str, str]

    @property
    def sign_data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.params["signData"])
        return loaded


async def start(stack: Stack, amount: int = 1999) -> Started:
    user = await log_in(stack)
    order = await stack.create_order(amount=amount, metadata=PRODUCT, user_id=user.user["id"])
    response = await pay(stack, order["id"], user, channel="virtual")
    assert response.status_code == 200, response.text
    return Started(order, user, response.json()["params"])


async def client_pays(
    stack: Stack, user: LoggedIn, params: dict[str, str], **options: str
) -> dict[str, Any]:
    """The mini program calls ``wx.requestVirtualPayment(params)``; WeChat's push goes out."""
    body = {"appid": MINI_APPID, "openid": user.user["openid"], **params, **options}
    answer = await stack.sandbox_client.post("/_sandbox/virtual-pay", json=body)
    assert answer.status_code == 200, answer.text
    await stack.sandbox.pay.drain()
    paid: dict[str, Any] = answer.json()
    return paid


async def resigned(stack: Stack, user: LoggedIn, **changes: Any) -> dict[str, str]:
    """Parameters for another signData, signed with the real AppKey and the user's session_key:
    what WeChat would take, though paydesk never signed it."""
    start_params = changes.pop("base")
    record = await stack.services.cache.sessions.get(digest(user.token))
    assert record is not None
    app = stack.sandbox.credentials.app(MINI_APPID)
    assert app is not None
    return virtual_payment_params(
        sign_data={**json.loads(start_params["signData"]), **changes},
        app_key=app.virtual_pay_app_key,
        session_key=record.session_key,
        mode="short_series_goods",
    )


@dataclass(frozen=True)
class Rows:
    """What paydesk wrote about one order."""

    order: Order
    payment: Payment
    events: list[OrderEvent]
    paid_events: list[OutboxEvent]
    anomalies: list[Anomaly]


async def rows(stack: Stack, order_id: str) -> Rows:
    async with stack.services.db() as session:
        order = await session.get_one(Order, order_id)
        [payment] = await session.scalars(select(Payment).where(Payment.order_id == order_id))
        events = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.to_state == "PAID")
        )
        outbox = await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.order_id == order_id, OutboxEvent.type == "order.paid"
            )
        )
        return Rows(order, payment, list(events), list(outbox), await all_anomalies(stack))


async def all_anomalies(stack: Stack) -> list[Anomaly]:
    async with stack.services.db() as session:
        return list(await session.scalars(select(Anomaly)))


def last_delivery(stack: Stack) -> Delivery:
    return stack.sandbox.pay.dispatcher.deliveries[-1]


def answers(delivery: Delivery) -> list[tuple[int | None, Any]]:
    return [
        (a.status, json.loads(a.excerpt) if a.excerpt.startswith("{") else a.excerpt)
        for a in delivery.attempts
    ]


@pytest.mark.parametrize(("push_mode", "fmt"), [("safe", "xml"), ("safe", "json")])
async def test_the_push_of_a_paid_virtual_order_makes_it_paid_once(
    stack: Stack, push_mode: str, fmt: str
) -> None:
    started = await start(stack, amount=1999)
    paid = await client_pays(stack, started.user, started.params, push_mode=push_mode, format=fmt)
    event = parse_goods_deliver(paid["event"])
    assert answers(last_delivery(stack)) == [(200, ACK)]

    found = await rows(stack, started.order["id"])
    assert found.order.state == "PAID"
    assert (found.order.paid_amount, found.order.transaction_id) == (1999, event.transaction_id)
    assert found.order.paid_at is not None
    assert event.paid_time is not None
    assert found.order.paid_at.replace(tzinfo=UTC) == datetime.fromtimestamp(event.paid_time, UTC)
    assert (found.order.payer_openid, found.order.payer_appid) == (
        started.user.user["openid"],
        MINI_APPID,
    )
    assert (found.payment.trade_state, found.payment.transaction_id) == (
        "SUCCESS",
        event.transaction_id,
    )
    [moved] = found.events
    assert (moved.from_state, moved.cause) == ("PAYING", "push.xpay")
    assert moved.detail["out_trade_no"] == started.sign_data["outTradeNo"]
    [announced] = found.paid_events
    assert announced.payload["data"]["state"] == "PAID"
    assert found.anomalies == []
    view = await stack.api.get(
        f"/api/v1/orders/{started.order['id']}", headers=started.user.headers
    )
    assert view.json()["state"] == "PAID"
    async with stack.services.db() as session:
        [stored] = await session.scalars(select(PushMessage))
    assert stored.handled_at is not None
    assert stored.payload["OutTradeNo"] == started.sign_data["outTradeNo"]


async def test_the_same_push_again_changes_nothing_and_is_acknowledged(stack: Stack) -> None:
    await add_fault(stack, kind="duplicate")  # WeChat sends it twice
    started = await start(stack)
    await client_pays(stack, started.user, started.params, format="json")
    delivery = last_delivery(stack)
    assert answers(delivery) == [(200, ACK), (200, ACK)]

    async def resend(number: int) -> httpx.Response:  # as WeChat's retry would, sealed anew
        url, body = delivery.reseal(number) if delivery.reseal else ("", b"")
        return await stack.api.post(url, content=body, headers={"Content-Type": "text/xml"})

    again = await asyncio.gather(*(resend(n) for n in (2, 3, 4)))
    assert [(r.status_code, r.json()) for r in again] == [(200, ACK)] * 3
    found = await rows(stack, started.order["id"])
    assert found.order.state == "PAID"
    assert (len(found.events), len(found.paid_events), found.anomalies) == (1, 1, [])


def event_head(started: Started, now: str) -> dict[str, Any]:
    """The fields every ``xpay_goods_deliver_notify`` for ``started``'s attempt starts with."""
    openid = started.user.user["openid"]
    return {
        "ToUserName": original_id(MINI_APPID),
        "FromUserName": openid,
        "CreateTime": now,
        "MsgType": "event",
        "Event": "xpay_goods_deliver_notify",
        "OpenId": openid,
        "OutTradeNo": started.sign_data["outTradeNo"],
    }


async def test_a_forged_or_unsigned_push_changes_nothing(stack: Stack) -> None:
    started = await start(stack)
    app = stack.sandbox.credentials.app(MINI_APPID)
    assert app is not None
    now = str(int(stack.services.clock.now().timestamp()))
    fields = goods_deliver_fields(
        parse_goods_deliver(
            {
                **event_head(started, now),
                "Env": 1,
                "WeChatPayInfo": {"TransactionId": "4200000000000000000000000001"},
                "GoodsInfo": {"ProductId": "gold_monthly", "Quantity": 1, "ActualPrice": 1999},
            }
        )
    )
    sealed = seal_push(
        app, fields, mode="safe", fmt="json", timestamp=now, nonce="1234", random16=bytes(16)
    )
    forged_signature = {**sealed.query, "msg_signature": push_signature("guess", now, "1234")}
    plain_query = {"signature": push_signature(app.push_token, now, "1234"), "timestamp": now}
    attempts = [
        (forged_signature, sealed.body),  # signed with a token that is not the app's
        ({k: v for k, v in sealed.query.items() if k != "msg_signature"}, sealed.body),
        ({**plain_query, "nonce": "1234"}, render_push(fields, "json")),  # safe mode wanted
        ({"timestamp": now, "nonce": "1234"}, render_push(fields, "json")),  # unsigned
    ]
    for query, body in attempts:
        refused = await stack.api.post(
            PUSH_PATH, params=query, content=body, headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 401, refused.text
    found = await rows(stack, started.order["id"])
    assert found.order.state == "PAYING"
    assert (found.events, found.paid_events, found.anomalies) == ([], [], [])
    async with stack.services.db() as session:
        assert list(await session.scalars(select(PushMessage))) == []


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"goodsPrice": 1}, "amount_mismatch"),
        ({"productId": "diamond_yearly"}, "product_mismatch"),
        ({"env": 0}, "env_mismatch"),
        ({"buyQuantity": 2}, "quantity_mismatch"),
        ({"outTradeNo": "PD0NOSUCHTRADE00001"}, "unknown_order"),
    ],
)
async def test_an_inconsistent_event_is_an_anomaly_answered_success(
    stack: Stack, changes: dict[str, Any], kind: str
) -> None:
    started = await start(stack)
    params = await resigned(stack, started.user, base=started.params, **changes)
    await client_pays(stack, started.user, params)
    assert answers(last_delivery(stack)) == [(200, ACK)]  # WeChat must not keep sending it
    found = await rows(stack, started.order["id"])
    assert found.order.state == "PAYING"
    assert (found.events, found.paid_events) == ([], [])
    [anomaly] = found.anomalies
    assert anomaly.kind == kind
    assert anomaly.order_id == (None if kind == "unknown_order" else started.order["id"])
    assert found.payment.transaction_id is None


async def test_another_user_paying_the_attempt_is_an_anomaly(stack: Stack) -> None:
    started = await start(stack)
    somebody = await log_in(stack)
    params = await resigned(stack, somebody, base=started.params)  # their session_key
    await client_pays(stack, somebody, params)
    assert answers(last_delivery(stack)) == [(200, ACK)]
    found = await rows(stack, started.order["id"])
    assert found.order.state == "PAYING"
    assert [(a.kind, a.detail["reported"]) for a in found.anomalies] == [
        ("openid_mismatch", somebody.user["openid"])
    ]


@asynccontextmanager
async def failing_order_events(stack: Stack) -> AsyncIterator[None]:
    """Every INSERT into order_events fails in the database itself, until the block ends."""
    dialect = stack.services.db.kw["bind"].dialect.name
    if dialect == "sqlite":
        create = [
            "CREATE TRIGGER xpay_test_fail BEFORE INSERT ON order_events "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ]
        drop = ["DROP TRIGGER xpay_test_fail"]
    else:
        create = [
            "CREATE FUNCTION xpay_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
            "CREATE TRIGGER xpay_test_fail BEFORE INSERT ON order_events "
            "FOR EACH ROW EXECUTE FUNCTION xpay_test_fail()",
        ]
        drop = ["DROP TRIGGER xpay_test_fail ON order_events", "DROP FUNCTION xpay_test_fail()"]
    async with stack.services.db.begin() as session:
        for statement in create:
            await session.execute(text(statement))
    try:
        yield
    finally:
        async with stack.services.db.begin() as session:
            for statement in drop:
                await session.execute(text(statement))


async def test_a_database_failure_is_answered_for_a_retry_which_applies_it(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    started = await start(stack)
    async with failing_order_events(stack):
        await client_pays(stack, started.user, started.params)
        [(status, answer)] = answers(last_delivery(stack))
        assert status == 503
        assert answer["ErrCode"] != 0
        found = await rows(stack, started.order["id"])
        assert (found.order.state, found.payment.transaction_id) == ("PAYING", None)
        async with stack.services.db() as session:
            assert list(await session.scalars(select(PushMessage))) == []  # rolled back too
    assert "not applied" in caplog.text

    stack.sandbox.clock.advance(RETRY_GAPS[0])  # WeChat's first retry, 15 s later
    await stack.sandbox.pay.drain()
    assert answers(last_delivery(stack))[-1] == (200, ACK)
    found = await rows(stack, started.order["id"])
    assert found.order.state == "PAID"
    assert (len(found.events), len(found.paid_events), found.anomalies) == (1, 1, [])
    async with stack.services.db() as session:
        [stored] = await session.scalars(select(PushMessage))
    assert stored.payload["RetryTimes"] in (1, "1")


async def test_a_push_not_applied_within_the_deadline_is_answered_for_a_retry_and_applied_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started = await start(stack)
    applying = xpay.apply_goods_deliver

    async def slowly(*args: Any) -> Any:
        await asyncio.sleep(0.3)  # the database is slow today
        return await applying(*args)

    monkeypatch.setattr(xpay, "apply_goods_deliver", slowly)
    monkeypatch.setattr(push, "REPLY_DEADLINE_SECONDS", 0.05)
    await client_pays(stack, started.user, started.params)
    [(status, answer)] = answers(last_delivery(stack))
    assert status == 503
    assert answer["ErrCode"] != 0
    assert "not applied within the deadline" in caplog.text

    await stack.app.state.in_flight.finish(grace_seconds=30)  # not cancelled: it finishes
    assert (await rows(stack, started.order["id"])).order.state == "PAID"
    monkeypatch.setattr(xpay, "apply_goods_deliver", applying)  # the database is fast again
    stack.sandbox.clock.advance(RETRY_GAPS[0])  # WeChat's retry finds it applied
    await stack.sandbox.pay.drain()
    assert answers(last_delivery(stack))[-1] == (200, ACK)
    found = await rows(stack, started.order["id"])
    assert (len(found.events), len(found.paid_events), found.anomalies) == (1, 1, [])


async def test_a_malformed_but_signed_event_is_refused_for_the_log(stack: Stack) -> None:
    started = await start(stack)
    app = stack.sandbox.credentials.app(MINI_APPID)
    assert app is not None
    now = str(int(stack.services.clock.now().timestamp()))
    fields = event_head(started, now)  # no Env, WeChatPayInfo nor GoodsInfo
    sealed = seal_push(
        app, fields, mode="safe", fmt="xml", timestamp=now, nonce="9", random16=bytes(16)
    )
    refused = await stack.api.post(
        PUSH_PATH, params=sealed.query, content=sealed.body, headers={"Content-Type": "text/xml"}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "malformed_push")
    assert (await rows(stack, started.order["id"])).order.state == "PAYING"
