"""``GET /api/v1/orders/{id}``: the merchant's and the paying user's view, and ``?sync=true``
(the server asks WeChat; the mini program's success callback is never taken as proof)."""

from __future__ import annotations

from typing import Any

import pytest

from paydesk.domain.apikeys import create_api_key
from paydesk.domain.users import limits
from paydesk.domain.users.limits import Limit
from paydesk.domain.users.tokens import digest
from tests.domain.users.support import (
    LoggedIn,
    add_fault,
    log_in,
    pay,
    payer_pays,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


async def read(
    stack: Stack, order_id: str, headers: dict[str, str], **query: str
) -> dict[str, Any]:
    response = await stack.api.get(f"/api/v1/orders/{order_id}", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def start_paying(stack: Stack, user: LoggedIn, **order: Any) -> tuple[str, dict[str, str]]:
    created = await stack.create_order(**order)
    response = await pay(stack, created["id"], user)
    assert response.status_code == 200, response.text
    return created["id"], response.json()["params"]


async def test_the_full_mini_program_flow_ends_paid(users: Stack) -> None:
    user = await log_in(users)  # wx.login → POST /auth/miniprogram
    order = await users.create_order(amount=990)  # the merchant backend
    response = await pay(users, order["id"], user)  # → wx.requestPayment(params)
    params = response.json()["params"]
    paid = await payer_pays(users, params)  # the payer confirms in WeChat
    assert paid.status_code == 200, paid.text
    await users.sandbox.pay.drain()  # WeChat's notification reached paydesk in-process
    mine = await read(users, order["id"], user.headers)
    assert mine["state"] == "PAID"
    assert mine["paid_amount"] == 990
    assert mine["transaction_id"] == paid.json()["transaction_id"]
    assert mine["payer"] == {"openid": user.user["openid"], "appid": user.user["appid"]}
    assert "sync" not in mine
    merchant = await read(users, order["id"], users.merchant_headers)
    assert merchant == mine
    deliveries = await users.sandbox_client.get(
        "/_sandbox/notifications", params={"out_trade_no": order["out_trade_no"]}
    )
    assert [a["status"] for a in deliveries.json()["attempts"]] == [204]
    session = await users.services.cache.sessions.get(digest(user.token))
    assert session is not None
    seen = [response.text, str(mine), str(merchant)]
    assert all(session.session_key not in text for text in seen)


async def test_the_merchant_reads_any_of_its_orders_and_no_other(users: Stack) -> None:
    order = await users.create_order(mchid=CERTIFICATE_MCHID)
    assert (await read(users, order["id"], users.merchant_headers))["state"] == "CREATED"
    async with users.services.db.begin() as session:
        scoped, _ = await create_api_key(
            session,
            name="other merchant",
            mchid=PUBLIC_KEY_MCHID,
            ids=users.services.ids,
            now=users.services.clock.now(),
        )
    hidden = await users.api.get(
        f"/api/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {scoped}"}
    )
    assert hidden.status_code == 404
    unknown = await users.api.get(
        f"/api/v1/orders/{order['id']}", headers={"Authorization": "Bearer pdk_nope"}
    )
    assert unknown.status_code == 401


async def test_a_user_sees_payable_orders_and_their_own_but_not_others(users: Stack) -> None:
    payer = await log_in(users)
    other = await log_in(users)
    open_order = await users.create_order()
    for user in (payer, other):  # unbound and payable: either of them may pay it
        assert (await read(users, open_order["id"], user.headers))["state"] == "CREATED"
    order_id, params = await start_paying(users, payer)
    assert (await payer_pays(users, params)).status_code == 200
    await users.sandbox.pay.drain()
    assert (await read(users, order_id, payer.headers))["state"] == "PAID"
    hidden = await users.api.get(f"/api/v1/orders/{order_id}", headers=other.headers)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "order_not_found"


async def test_a_user_still_sees_an_order_they_started_after_it_was_closed(
    users: Stack,
) -> None:
    payer = await log_in(users)
    other = await log_in(users)
    order_id, _ = await start_paying(users, payer)
    closed = await users.api.post(
        f"/api/v1/orders/{order_id}/close", headers=users.merchant_headers
    )
    assert closed.status_code == 200, closed.text
    assert (await read(users, order_id, payer.headers))["state"] == "CLOSED"
    assert (
        await users.api.get(f"/api/v1/orders/{order_id}", headers=other.headers)
    ).status_code == 404


async def test_sync_turns_paying_into_paid_when_the_notification_is_lost(users: Stack) -> None:
    await add_fault(users, kind="drop")
    user = await log_in(users)
    order_id, params = await start_paying(users, user)
    assert (await payer_pays(users, params)).status_code == 200
    await users.sandbox.pay.drain()
    assert (await read(users, order_id, user.headers))["state"] == "PAYING"
    synced = await read(users, order_id, user.headers, sync="true")
    assert synced["state"] == "PAID"
    assert synced["sync"] == {"ok": True, "queried": True}
    again = await read(users, order_id, users.merchant_headers, sync="true")
    assert again["state"] == "PAID"
    assert again["sync"] == {"ok": True, "queried": False}  # PAID is final: WeChat not asked


async def test_sync_of_an_unpaid_order_leaves_it_paying(users: Stack) -> None:
    user = await log_in(users)
    order_id, _ = await start_paying(users, user)
    synced = await read(users, order_id, user.headers, sync="true")
    assert synced["state"] == "PAYING"
    assert synced["sync"] == {"ok": True, "queried": True}


async def test_sync_when_wechat_fails_answers_the_order_as_it_is(users: Stack) -> None:
    user = await log_in(users)
    order_id, params = await start_paying(users, user)
    await add_fault(users, kind="drop")
    assert (await payer_pays(users, params)).status_code == 200
    await users.sandbox.pay.drain()
    await add_fault(users, kind="5xx", path="/v3/pay/transactions/out-trade-no/")
    failed = await read(users, order_id, user.headers, sync="true")
    assert failed["state"] == "PAYING"
    assert failed["sync"]["ok"] is False
    assert failed["sync"]["error"]["code"].startswith("wechat_")
    assert failed["sync"]["error"]["retryable"] is True


async def test_a_created_order_is_not_queried(users: Stack) -> None:
    order = await users.create_order()
    synced = await read(users, order["id"], users.merchant_headers, sync="true")
    assert synced["state"] == "CREATED"
    assert synced["sync"] == {"ok": True, "queried": False}


async def test_sync_is_rate_limited_per_order(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "SYNC_PER_ORDER", Limit(1, 60.0, "status checks"))
    user = await log_in(users)
    order_id, _ = await start_paying(users, user)
    await read(users, order_id, user.headers, sync="true")
    limited = await users.api.get(
        f"/api/v1/orders/{order_id}", params={"sync": "true"}, headers=user.headers
    )
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await read(users, order_id, user.headers))["state"] == "PAYING"


@pytest.mark.parametrize("query", [{"sync": "maybe"}, {"sync": ""}])
async def test_a_bad_sync_flag_is_a_400(users: Stack, query: dict[str, str]) -> None:
    order = await users.create_order()
    response = await users.api.get(
        f"/api/v1/orders/{order['id']}", params=query, headers=users.merchant_headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("sync")
