"""``POST /api/v1/orders/{id}/pay``: the mini program user gets signed ``wx.requestPayment``
parameters, which the sandbox payer checks exactly as WeChat's client does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paydesk.domain.users import limits
from paydesk.domain.users.limits import Limit
from paydesk.settings.config import SignTypeV2
from tests.domain.users.support import (
    UserStacks,
    log_in,
    pay,
    payer_pays,
    prepay_id,
    tampered,
)
from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends

PARAM_KEYS = {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}


@pytest.fixture
async def stacks(
    make_stack: StackFactory, redis_url: str | None, redis_prefix: str
) -> AsyncIterator[UserStacks]:
    async with UserStacks(make_stack, redis_url, redis_prefix) as built:
        yield built


@pytest.fixture
async def users(stacks: UserStacks) -> Stack:
    return await stacks.build()


async def assert_payer_accepts_only_the_real_sign(stack: Stack, params: dict[str, str]) -> None:
    refused = await payer_pays(stack, params, pay_sign=tampered(params["paySign"]))
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "SIGN_ERROR"
    paid = await payer_pays(stack, params)
    assert paid.status_code == 200, paid.text
    assert paid.json()["trade_state"] == "SUCCESS"
    await stack.sandbox.pay.drain()  # the notification is in: nothing left in flight


@pytest.mark.parametrize("mchid", [PUBLIC_KEY_MCHID, CERTIFICATE_MCHID])
async def test_v3_pay_params_are_rsa_signed_and_accepted_by_the_payer(
    users: Stack, mchid: str
) -> None:
    user = await log_in(users)
    order = await users.create_order(amount=1234, mchid=mchid)
    response = await pay(users, order["id"], user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order_id"] == order["id"]
    assert body["payment_id"].startswith("pay_")
    assert body["channel"] == "miniprogram"
    assert body["api_version"] == "v3"
    assert body["reused"] is False
    params = body["params"]
    assert set(params) == PARAM_KEYS
    assert params["appId"] == MINI_APPID
    assert params["signType"] == "RSA"
    assert params["package"].startswith("prepay_id=")
    sandbox_order = await users.sandbox_client.get(
        "/_sandbox/orders", params={"out_trade_no": order["out_trade_no"]}
    )
    [prepaid] = sandbox_order.json()["orders"]
    assert prepaid["total"] == 1234
    assert prepaid["mchid"] == mchid
    assert prepaid["payer_openid"] == user.user["openid"]
    await assert_payer_accepts_only_the_real_sign(users, params)


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_v2_pay_params_are_signed_with_the_merchants_sign_type(
    stacks: UserStacks, sign_type: SignTypeV2
) -> None:
    stack = await stacks.build(api_versions={PUBLIC_KEY_MCHID: "v2"}, v2_sign_type=sign_type)
    user = await log_in(stack)
    order = await stack.create_order(amount=88, mchid=PUBLIC_KEY_MCHID)
    response = await pay(stack, order["id"], user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["api_version"] == "v2"
    params = body["params"]
    assert set(params) == PARAM_KEYS
    assert params["signType"] == sign_type
    assert len(params["paySign"]) == (32 if sign_type == "MD5" else 64)
    await assert_payer_accepts_only_the_real_sign(stack, params)


async def test_a_still_valid_prepay_is_reused_with_fresh_signatures(users: Stack) -> None:
    user = await log_in(users)
    order = await users.create_order()
    first = (await pay(users, order["id"], user)).json()
    second_response = await pay(users, order["id"], user)
    assert second_response.status_code == 200, second_response.text
    second = second_response.json()
    assert second["reused"] is True
    assert second["payment_id"] == first["payment_id"]
    assert prepay_id(second["params"]) == prepay_id(first["params"])
    assert second["params"]["nonceStr"] != first["params"]["nonceStr"]
    assert second["params"]["paySign"] != first["params"]["paySign"]
    orders = await users.sandbox_client.get("/_sandbox/orders")
    assert [o["out_trade_no"] for o in orders.json()["orders"]] == [order["out_trade_no"]]
    await assert_payer_accepts_only_the_real_sign(users, second["params"])


async def test_another_user_cannot_pay_or_see_a_bound_order(users: Stack) -> None:
    owner = await log_in(users)
    stranger = await log_in(users)
    for binding in ({"user_id": owner.user["id"]}, {"payer_openid": owner.user["openid"]}):
        order = await users.create_order(**binding)
        refused = await pay(users, order["id"], stranger)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "order_not_found"
        hidden = await users.api.get(f"/api/v1/orders/{order['id']}", headers=stranger.headers)
        assert hidden.status_code == 404
        accepted = await pay(users, order["id"], owner)
        assert accepted.status_code == 200, accepted.text
    orders = await users.sandbox_client.get("/_sandbox/orders")
    assert {o["payer_openid"] for o in orders.json()["orders"]} == {owner.user["openid"]}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"amount": 1}, "amount is not accepted"),
        ({"channel": "miniprogram", "amount": 1}, "amount is not accepted"),
        ({"channel": "miniprogram", "total_fee": 1}, "total_fee"),
        ({"channel": "jsapi"}, "channel"),
        ({}, "channel"),
    ],
)
async def test_the_body_carries_the_channel_only(
    users: Stack, body: dict[str, object], problem: str
) -> None:
    user = await log_in(users)
    order = await users.create_order()
    response = await users.api.post(
        f"/api/v1/orders/{order['id']}/pay", json=body, headers=user.headers
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert problem in error["message"]
    orders = await users.sandbox_client.get("/_sandbox/orders")
    assert orders.json()["orders"] == []


async def test_unknown_paid_and_closed_orders(users: Stack) -> None:
    user = await log_in(users)
    missing = await pay(users, "ord_missing", user)
    assert missing.status_code == 404
    order = await users.create_order()
    params = (await pay(users, order["id"], user)).json()["params"]
    assert (await payer_pays(users, params)).status_code == 200
    await users.sandbox.pay.drain()
    again = await pay(users, order["id"], user)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "order_paid"
    closed = await users.create_order()
    close = await users.api.post(
        f"/api/v1/orders/{closed['id']}/close", headers=users.merchant_headers
    )
    assert close.status_code == 200, close.text
    refused = await pay(users, closed["id"], user)
    assert refused.status_code == 404  # never started by this user: not theirs to see


async def test_pay_is_rate_limited_per_user(users: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "PAY_PER_USER", Limit(2, 60.0, "pay requests"))
    user = await log_in(users)
    other = await log_in(users)
    order = await users.create_order()
    assert (await pay(users, order["id"], user)).status_code == 200
    assert (await pay(users, order["id"], user)).status_code == 200
    limited = await pay(users, order["id"], user)
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await pay(users, order["id"], other)).status_code == 200
