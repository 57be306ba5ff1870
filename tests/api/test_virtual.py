"""``POST /api/v1/orders/{id}/pay {"channel": "virtual"}``: ``wx.requestVirtualPayment``'s
parameters, their two signatures checked with the protocol layer and with plain HMAC, the
attempt they are for, and the refusals."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from paydesk.db.models import Payment
from paydesk.domain.clock import FixedClock
from paydesk.domain.registry import Registry
from paydesk.domain.users.tokens import digest
from paydesk.protocol.virtual_payment import CLIENT_URI, pay_sig, user_signature
from tests.domain.users.support import LoggedIn, UserStacks, add_fault, log_in, pay, payer_pays
from tests.stack import MINI_APPID, PAYDESK_URL, Stack

pytestmark = pytest.mark.backends

SECRET_KEY = "Vq3n8T1xZ0cL7pRk2Hs9Wd4Fg6Jm5Yb1Nz8Qe3Ua7Xr0Ci2Ot6"
PRODUCT = {"virtual_product_id": "gold_monthly"}
PARAM_KEYS = {"signData", "paySig", "signature", "mode"}


@pytest.fixture
def stack(users: Stack) -> Stack:
    """Every test here runs on a user stack (``users``)."""
    return users


def app_key(stack: Stack) -> str:
    app = stack.sandbox.credentials.app(MINI_APPID)
    assert app is not None
    return app.virtual_pay_app_key


async def session_key(stack: Stack, user: LoggedIn) -> str:
    record = await stack.services.cache.sessions.get(digest(user.token))
    assert record is not None
    return record.session_key


async def pay_virtually(stack: Stack, order_id: str, user: LoggedIn) -> dict[str, Any]:
    response = await pay(stack, order_id, user, channel="virtual")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_the_params_are_signed_for_the_order_and_the_user(stack: Stack) -> None:
    user = await log_in(stack)
    order = await stack.create_order(amount=1999, metadata=PRODUCT)
    body = await pay_virtually(stack, order["id"], user)
    assert (body["order_id"], body["channel"], body["reused"]) == (order["id"], "virtual", False)
    params = body["params"]
    assert set(params) == PARAM_KEYS
    assert params["mode"] == "short_series_goods"
    assert json.loads(params["signData"]) == {
        "offerId": "1450000000",
        "buyQuantity": 1,
        "env": 1,  # development: WeChat's virtual-payment sandbox
        "currencyType": "CNY",
        "productId": "gold_monthly",
        "goodsPrice": 1999,
        "outTradeNo": order["out_trade_no"],
        "attach": order["id"],
    }
    key, user_key = app_key(stack), await session_key(stack, user)
    assert params["paySig"] == pay_sig(key, CLIENT_URI, params["signData"])
    assert params["signature"] == user_signature(user_key, params["signData"])
    plain = hmac.new(key.encode(), f"requestVirtualPayment&{params['signData']}".encode(), "sha256")
    assert params["paySig"] == plain.hexdigest()
    by_session = hmac.new(user_key.encode(), params["signData"].encode(), hashlib.sha256)
    assert params["signature"] == by_session.hexdigest()

    async with stack.services.db() as session:
        [attempt] = await session.scalars(select(Payment).where(Payment.order_id == order["id"]))
    assert (str(attempt.channel), attempt.out_trade_no) == ("virtual", order["out_trade_no"])
    assert (attempt.appid, attempt.openid) == (MINI_APPID, user.user["openid"])
    final = await stack.api.get(f"/api/v1/orders/{order['id']}", headers=user.headers)
    assert final.json()["state"] == "PAYING"


async def test_asking_again_reuses_the_attempt_and_signs_with_the_current_session(
    stack: Stack,
) -> None:
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT)
    first = await pay_virtually(stack, order["id"], user)
    again = await pay_virtually(stack, order["id"], user)
    assert again["reused"] is True
    assert again["payment_id"] == first["payment_id"]
    assert again["params"] == first["params"]
    relogged = await log_in(stack, openid=user.user["openid"])  # a new session_key
    third = await pay_virtually(stack, order["id"], relogged)
    assert third["payment_id"] == first["payment_id"]
    assert third["params"]["signData"] == first["params"]["signData"]
    assert third["params"]["signature"] != first["params"]["signature"]
    expected = user_signature(await session_key(stack, relogged), third["params"]["signData"])
    assert third["params"]["signature"] == expected


@pytest.mark.parametrize(
    ("settings", "env"),
    [
        ({"environment": "production", "secret_key": SECRET_KEY}, 0),
        ({"environment": "production", "secret_key": SECRET_KEY, "sandbox": True}, 1),
    ],
)
async def test_env_is_live_only_outside_development_and_the_sandbox(
    stacks: UserStacks, settings: dict[str, Any], env: int
) -> None:
    stack = await stacks.build(settings=settings)
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT)
    body = await pay_virtually(stack, order["id"], user)
    assert json.loads(body["params"]["signData"])["env"] == env


async def test_switching_between_wechat_pay_and_virtual_closes_the_other_attempt(
    stack: Stack,
) -> None:
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT)
    prepaid = await pay(stack, order["id"], user)
    assert prepaid.status_code == 200, prepaid.text
    virtual = await pay_virtually(stack, order["id"], user)
    sign_data = json.loads(virtual["params"]["signData"])
    assert sign_data["outTradeNo"] == f"{order['out_trade_no']}-2"
    at_wechat = await stack.sandbox_client.get(
        "/_sandbox/orders", params={"out_trade_no": order["out_trade_no"]}
    )
    [closed] = at_wechat.json()["orders"]
    assert closed["state"] == "CLOSED"  # the WeChat Pay prepay can no longer be paid
    back = await pay(stack, order["id"], user)
    assert back.status_code == 200, back.text
    async with stack.services.db() as session:
        attempts = list(
            await session.scalars(
                select(Payment).where(Payment.order_id == order["id"]).order_by(Payment.created_at)
            )
        )
    assert [str(a.channel) for a in attempts] == ["miniprogram", "virtual", "miniprogram"]
    assert [a.closed_at is not None for a in attempts] == [True, True, False]
    again = await pay_virtually(stack, order["id"], user)  # back again: a fourth number
    assert json.loads(again["params"]["signData"])["outTradeNo"] == f"{order['out_trade_no']}-4"


async def test_a_wechat_pay_attempt_paid_meanwhile_is_found_not_doubled(stack: Stack) -> None:
    await add_fault(stack, kind="delay", seconds=3600)  # WeChat's notification is late
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT)
    prepaid = await pay(stack, order["id"], user)
    assert prepaid.status_code == 200, prepaid.text
    paid = await payer_pays(stack, prepaid.json()["params"])
    assert paid.status_code == 200, paid.text
    refused = await pay(stack, order["id"], user, channel="virtual")
    assert (refused.status_code, error_code(refused)) == (409, "order_paid")
    final = await stack.api.get(f"/api/v1/orders/{order['id']}", headers=user.headers)
    assert final.json()["state"] == "PAID"


async def test_at_most_one_attempt_however_many_ask_at_once(stack: Stack) -> None:
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT)
    answers = await asyncio.gather(
        *(pay(stack, order["id"], user, channel="virtual") for _ in range(5))
    )
    for answer in answers:
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 409:
            assert error_code(answer) == "payment_in_progress"
    async with stack.services.db() as session:
        attempts = list(
            await session.scalars(select(Payment).where(Payment.order_id == order["id"]))
        )
    assert len(attempts) == 1
    assert {a.json()["payment_id"] for a in answers if a.status_code == 200} == {attempts[0].id}


async def test_an_expired_order_is_not_paid_virtually(stacks: UserStacks) -> None:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    stack = await stacks.build(clock=clock)
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT, expires_in=120)
    clock.advance(121)
    refused = await pay(stack, order["id"], user, channel="virtual")
    assert (refused.status_code, error_code(refused)) == (409, "order_expired")


async def test_virtual_pay_needs_the_app_configured_and_the_item_named(stack: Stack) -> None:
    user = await log_in(stack)
    unnamed = await stack.create_order()
    missing = await pay(stack, unnamed["id"], user, channel="virtual")
    assert (missing.status_code, error_code(missing)) == (400, "virtual_product_missing")
    config = stack.services.registry.config
    apps = [a.model_copy(update={"virtual_pay_app_key": None}) for a in config.apps]
    stack.services.registry = Registry(config.model_copy(update={"apps": apps}), PAYDESK_URL)
    named = await stack.create_order(metadata=PRODUCT)
    unconfigured = await pay(stack, named["id"], user, channel="virtual")
    assert (unconfigured.status_code, error_code(unconfigured)) == (
        400,
        "virtual_pay_not_configured",
    )
    apps = [a.model_copy(update={"type": "web"}) if a.appid == MINI_APPID else a for a in apps]
    stack.services.registry = Registry(config.model_copy(update={"apps": apps}), PAYDESK_URL)
    not_a_mini_program = await pay(stack, named["id"], user, channel="virtual")
    assert error_code(not_a_mini_program) == "channel_not_for_app"


async def test_only_a_payable_order_of_this_user_is_paid_virtually(stack: Stack) -> None:
    owner = await log_in(stack)
    somebody = await log_in(stack)
    theirs = await stack.create_order(user_id=owner.user["id"], metadata=PRODUCT)
    hidden = await pay(stack, theirs["id"], somebody, channel="virtual")
    assert (hidden.status_code, error_code(hidden)) == (404, "order_not_found")
    closed = await stack.create_order(user_id=owner.user["id"], metadata=PRODUCT)
    answer = await stack.api.post(
        f"/api/v1/orders/{closed['id']}/close", headers=stack.merchant_headers
    )
    assert answer.status_code == 200, answer.text
    refused = await pay(stack, closed["id"], owner, channel="virtual")
    assert (refused.status_code, error_code(refused)) == (409, "order_closed")


async def test_the_client_names_the_channel_and_nothing_else(stack: Stack) -> None:
    user = await log_in(stack)
    order = await stack.create_order(metadata=PRODUCT)
    for extra in ({"amount": 1}, {"goodsPrice": 1}, {"productId": "cheap"}):
        refused = await pay(stack, order["id"], user, channel="virtual", **extra)
        assert (refused.status_code, error_code(refused)) == (400, "invalid_request")
