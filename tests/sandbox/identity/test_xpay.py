"""``POST /_sandbox/virtual-pay``: the client's signatures checked as WeChat does, then the
``xpay_goods_deliver_notify`` push, sealed anew and retried on WeChat's schedule until the
merchant answers ``{"ErrCode": 0}``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paydesk.protocol.messages import parse_goods_deliver, parse_push, xpay_answer
from paydesk.protocol.virtual_payment import virtual_payment_params
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.http import MAX_BODY_BYTES
from paydesk.sandbox.identity.push_build import original_id
from paydesk.sandbox.pay.retry import RETRY_GAPS
from tests.sandbox.identity.merchant import Merchant, World, open_push, open_world

ACK = xpay_answer().decode()
NOT_APPLIED = xpay_answer(1, "busy").decode()


@pytest.fixture
async def world(sandbox_credentials: SandboxCredentials) -> AsyncIterator[World]:
    async with open_world(sandbox_credentials, Merchant(answers=[(200, ACK, 0)]), seed=99) as built:
        await built.set_url(built.mini)
        yield built


async def logged_in(world: World) -> tuple[str, str]:
    """``wx.login`` and the merchant's ``jscode2session``: (openid, session_key)."""
    issued = await world.client.post("/_sandbox/login-code", json={"appid": world.mini.appid})
    params = {
        "appid": world.mini.appid,
        "secret": world.mini.secret,
        "js_code": issued.json()["code"],
        "grant_type": "authorization_code",
    }
    session = (await world.client.get("/sns/jscode2session", params=params)).json()
    return session["openid"], session["session_key"]


def sign_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "offerId": "1450000000",
        "buyQuantity": 1,
        "env": 1,
        "currencyType": "CNY",
        "productId": "gold_monthly",
        "goodsPrice": 1999,
        "outTradeNo": "PD0000000000000001",
        "attach": "ord_1",
    }
    data.update(changes)
    return data


def request(
    world: World, openid: str, session_key: str, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the mini program passes to ``wx.requestVirtualPayment``, plus who it is."""
    params = virtual_payment_params(
        sign_data=data or sign_data(),
        app_key=world.mini.virtual_pay_app_key,
        session_key=session_key,
        mode="short_series_goods",
    )
    return {"appid": world.mini.appid, "openid": openid, **params}


async def virtual_pay(world: World, body: dict[str, Any]) -> httpx.Response:
    return await world.client.post("/_sandbox/virtual-pay", json=body)


def received_event(world: World, index: int, fmt: Any = "xml") -> Any:
    got = world.merchant.received[index]
    plain = open_push(world.mini, got["query"], got["body"], "safe", fmt)
    return parse_goods_deliver(parse_push(plain, fmt).raw)


async def test_a_paid_item_is_pushed_to_the_merchant_sealed_as_wechat_sends_it(
    world: World,
) -> None:
    openid, session_key = await logged_in(world)
    answer = await virtual_pay(world, request(world, openid, session_key))
    assert answer.status_code == 200, answer.text
    assert answer.json()["errMsg"] == "requestVirtualPayment:ok"
    await world.sandbox.pay.drain()
    [got] = world.merchant.received
    assert got["path"] == "/wechat/push"
    assert got["query"]["encrypt_type"] == "aes"  # safe mode unless asked otherwise
    event = received_event(world, 0)
    assert (event.openid, event.from_user, event.to_user) == (
        openid,
        openid,
        original_id(world.mini.appid),
    )
    assert (event.out_trade_no, event.env, event.product_id) == (
        "PD0000000000000001",
        1,
        "gold_monthly",
    )
    assert (event.quantity, event.actual_price, event.attach, event.retry_times) == (
        1,
        1999,
        "ord_1",
        0,
    )
    assert event.transaction_id
    assert event.mch_order_no
    assert event.paid_time
    assert answer.json()["event"]["OutTradeNo"] == event.out_trade_no
    [delivery] = (await world.client.get("/_sandbox/notifications")).json()["deliveries"]
    assert (delivery["api"], delivery["state"], delivery["real_attempts"]) == (
        "xpay",
        "delivered",
        1,
    )


async def test_the_push_is_retried_on_wechats_schedule_until_errcode_zero(world: World) -> None:
    world.merchant.answers = [(503, NOT_APPLIED, 0), (200, "success", 0), (200, ACK, 0)]
    openid, session_key = await logged_in(world)
    body = request(world, openid, session_key)
    assert (await virtual_pay(world, {**body, "format": "json"})).status_code == 200
    await world.sandbox.pay.drain()
    assert len(world.merchant.received) == 1
    world.sandbox.clock.advance(RETRY_GAPS[0] - 1)
    await world.sandbox.pay.drain()
    assert len(world.merchant.received) == 1  # not before its time
    world.sandbox.clock.advance(1)
    await world.sandbox.pay.drain()
    assert len(world.merchant.received) == 2  # "success" is not an xpay answer: again
    world.sandbox.clock.advance(RETRY_GAPS[1])
    await world.sandbox.pay.drain()
    world.sandbox.clock.advance(24 * 3600)
    await world.sandbox.pay.drain()
    assert len(world.merchant.received) == 3  # ErrCode 0: never again
    events = [received_event(world, i, "json") for i in range(3)]
    assert [e.retry_times for e in events] == [0, 1, 2]
    assert len({e.transaction_id for e in events}) == 1
    assert len({r["query"]["nonce"] for r in world.merchant.received}) == 3  # sealed anew


async def test_a_merchant_that_never_acknowledges_gets_wechats_sixteen_attempts(
    world: World,
) -> None:
    world.merchant.answers = [(200, NOT_APPLIED, 0)]
    openid, session_key = await logged_in(world)
    assert (await virtual_pay(world, request(world, openid, session_key))).status_code == 200
    for gap in (0, *RETRY_GAPS, 7 * 3600):
        world.sandbox.clock.advance(gap)
        await world.sandbox.pay.drain()
    assert len(world.merchant.received) == len(RETRY_GAPS) + 1
    [delivery] = (await world.client.get("/_sandbox/notifications")).json()["deliveries"]
    assert delivery["state"] == "failed"


def tamper(signature: str) -> str:
    return ("0" if signature[0] != "0" else "1") + signature[1:]


async def test_bad_signatures_and_a_second_payment_are_refused(world: World) -> None:
    openid, session_key = await logged_in(world)
    good = request(world, openid, session_key)
    refusals = [
        ({**good, "paySig": tamper(good["paySig"])}, 268490003, "paySig"),
        ({**good, "signature": tamper(good["signature"])}, 268490003, "signature"),
        ({**good, "paySig": None}, 268490003, "paySig"),
        (request(world, openid, "c2Vzc2lvbl9rZXlfbm90X2l0"), 268490003, "signature"),
        ({**good, "openid": "o_never_logged_in"}, 268490009, "no session"),
    ]
    for body, errcode, names in refusals:
        refused = await virtual_pay(world, body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errCode"] == errcode
        assert refused.json()["errMsg"].startswith("requestVirtualPayment:fail")
        assert names in refused.json()["errMsg"]
    assert (await virtual_pay(world, good)).status_code == 200
    again = await virtual_pay(world, good)
    assert (again.status_code, again.json()["errCode"]) == (400, 268490004)
    await world.sandbox.pay.drain()
    assert len(world.merchant.received) == 1


async def test_a_new_login_replaces_the_session_key_the_client_signs_with(world: World) -> None:
    openid, first_key = await logged_in(world)
    issued = await world.client.post(
        "/_sandbox/login-code", json={"appid": world.mini.appid, "openid": openid}
    )
    params = {
        "appid": world.mini.appid,
        "secret": world.mini.secret,
        "js_code": issued.json()["code"],
        "grant_type": "authorization_code",
    }
    second_key = (await world.client.get("/sns/jscode2session", params=params)).json()
    assert second_key["session_key"] != first_key
    stale = await virtual_pay(world, request(world, openid, first_key))
    assert stale.json()["errCode"] == 268490003
    fresh = await virtual_pay(world, request(world, openid, second_key["session_key"]))
    assert fresh.status_code == 200, fresh.text


@pytest.mark.parametrize(
    "change",
    [
        {"buyQuantity": 0},
        {"env": 2},
        {"env": True},
        {"currencyType": "USD"},
        {"goodsPrice": 19.99},
        {"productId": ""},
        {"outTradeNo": "_PD000000001"},
        {"outTradeNo": "short"},
        {"offerId": None},
        {"attach": 7},
    ],
)
async def test_sign_data_wechat_would_not_take_is_refused(
    world: World, change: dict[str, Any]
) -> None:
    openid, session_key = await logged_in(world)
    body = request(world, openid, session_key)
    data = {**json.loads(body["signData"]), **change}
    text = json.dumps(data, separators=(",", ":"))
    refused = await virtual_pay(world, {**body, "signData": text})
    assert (refused.status_code, refused.json()["errCode"]) == (400, -1)
    assert next(iter(change)) in refused.json()["errMsg"]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"signData": "[1]"}, 400),
        ({"signData": "{not json"}, 400),
        ({"signData": {"offerId": "1"}}, 400),
        ({"mode": "short_series_coin"}, 400),
        ({"appid": "wx0000000000000000"}, 404),
        ({"push_mode": "loud"}, 400),
        ({"format": "yaml"}, 400),
    ],
)
async def test_requests_the_sandbox_cannot_emulate_are_refused(
    world: World, changes: dict[str, Any], status: int
) -> None:
    openid, session_key = await logged_in(world)
    refused = await virtual_pay(world, {**request(world, openid, session_key), **changes})
    assert refused.status_code == status, refused.text
    assert world.sandbox.pay.dispatcher.deliveries == []


async def test_a_body_over_the_sandboxs_limit_is_413_and_nothing_is_paid(world: World) -> None:
    huge = b'{"signData": "' + b"x" * MAX_BODY_BYTES + b'"}'
    refused = await world.client.post("/_sandbox/virtual-pay", content=huge)
    assert refused.status_code == 413
    assert world.sandbox.pay.dispatcher.deliveries == []


async def test_an_app_without_a_push_url_cannot_be_told(
    sandbox_credentials: SandboxCredentials,
) -> None:
    box = Sandbox(sandbox_credentials, seed=5)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.asgi()), base_url="http://sandbox.test"
    ) as client:
        mini = next(a for a in sandbox_credentials.apps if a.type == "miniprogram")
        answer = await client.post("/_sandbox/virtual-pay", json={"appid": mini.appid})
        assert answer.status_code == 409
        assert "push-url" in answer.text
        unreadable = await client.post("/_sandbox/virtual-pay", content=b"{")
        assert unreadable.status_code == 400
    await box.stop()
