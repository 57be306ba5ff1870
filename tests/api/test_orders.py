"""Merchant order routes: create (with Idempotency-Key), read, list, close."""

from __future__ import annotations

import asyncio

import pytest

from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


async def test_create_order_returns_it_in_fen_and_created(stack: Stack) -> None:
    order = await stack.create_order(
        amount=1999,
        description="月卡 monthly card",
        merchant_order_id="shop-1",
        metadata={"sku": "M1"},
    )
    assert order["state"] == "CREATED"
    assert order["amount"] == 1999
    assert order["currency"] == "CNY"
    assert order["mchid"] == PUBLIC_KEY_MCHID
    assert order["appid"] == MINI_APPID
    assert order["out_trade_no"].startswith("PD")
    assert len(order["out_trade_no"]) == 28
    assert order["metadata"] == {"sku": "M1"}
    listed = await stack.api.get(
        "/api/v1/orders?merchant_order_id=shop-1", headers=stack.merchant_headers
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == [order]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 1.5}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 2**31}, "amount"),
        ({"description": ""}, "description"),
        ({"description": "x" * 128}, "description"),
        ({"merchant_order_id": "has space"}, "merchant_order_id"),
        ({"expires_in": 10}, "expires_in"),
        ({"surprise": 1}, "surprise"),
        ({"appid": "not-an-appid"}, "appid"),
    ],
)
async def test_bad_orders_get_a_precise_400(
    stack: Stack, body: dict[str, object], field: str
) -> None:
    full = {"merchant_order_id": "m-1", "amount": 100, "description": "d", **body}
    response = await stack.api.post("/api/v1/orders", json=full, headers=stack.merchant_headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(field)
    assert error["request_id"].startswith("req_")


async def test_emoji_descriptions_and_unbound_apps_are_refused(stack: Stack) -> None:
    emoji = {"merchant_order_id": "m-e", "amount": 1, "description": "cake 🎂"}
    response = await stack.api.post("/api/v1/orders", json=emoji, headers=stack.merchant_headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_description"
    unknown = {
        "merchant_order_id": "m-u",
        "amount": 1,
        "description": "d",
        "appid": "wx0000000000000000",
    }
    response = await stack.api.post("/api/v1/orders", json=unknown, headers=stack.merchant_headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "app_not_found"


async def test_malformed_json_and_oversized_bodies(stack: Stack) -> None:
    response = await stack.api.post(
        "/api/v1/orders",
        content=b"{not json",
        headers={**stack.merchant_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    big = b'{"x":"' + b"a" * (70 * 1024) + b'"}'
    response = await stack.api.post(
        "/api/v1/orders",
        content=big,
        headers={**stack.merchant_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_authentication(stack: Stack) -> None:
    body = {"merchant_order_id": "m-a", "amount": 1, "description": "d"}
    for headers in ({}, {"Authorization": "Bearer pdk_wrong"}, {"Authorization": "Basic x"}):
        response = await stack.api.post("/api/v1/orders", json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] in {"missing_credentials", "invalid_api_key"}


async def test_duplicate_merchant_order_id_is_a_conflict(stack: Stack) -> None:
    await stack.create_order(merchant_order_id="dup-1")
    body = {"merchant_order_id": "dup-1", "amount": 100, "description": "d"}
    response = await stack.api.post("/api/v1/orders", json=body, headers=stack.merchant_headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_merchant_order_id"


async def test_a_user_id_naming_no_user_is_a_404_that_says_what_to_send(stack: Stack) -> None:
    body = {"merchant_order_id": "u-1", "amount": 100, "description": "d", "user_id": "usr_x"}
    response = await stack.api.post("/api/v1/orders", json=body, headers=stack.merchant_headers)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "user_not_found"
    assert "usr_x" in error["message"]
    assert "login" in error["message"]
    again = await stack.api.post(  # nothing was kept: the merchant's id is still free
        "/api/v1/orders", json=body | {"user_id": None}, headers=stack.merchant_headers
    )
    assert again.status_code == 201


async def test_idempotency_key_replays_and_refuses_a_changed_body(stack: Stack) -> None:
    body = {"merchant_order_id": "idem-1", "amount": 100, "description": "d"}
    headers = {**stack.merchant_headers, "Idempotency-Key": "k-1"}
    first = await stack.api.post("/api/v1/orders", json=body, headers=headers)
    again = await stack.api.post("/api/v1/orders", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = await stack.api.post("/api/v1/orders", json={**body, "amount": 101}, headers=headers)
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"


async def test_concurrent_requests_with_one_key_create_one_order(stack: Stack) -> None:
    body = {"merchant_order_id": "idem-c", "amount": 100, "description": "d"}
    headers = {**stack.merchant_headers, "Idempotency-Key": "k-c"}
    answers = await asyncio.gather(
        *(stack.api.post("/api/v1/orders", json=body, headers=headers) for _ in range(8))
    )
    created = [a.json()["id"] for a in answers if a.status_code == 201]
    assert len(set(created)) == 1
    assert all(a.status_code in (201, 409) for a in answers)
    listed = await stack.api.get(
        "/api/v1/orders?merchant_order_id=idem-c", headers=stack.merchant_headers
    )
    assert len(listed.json()["data"]) == 1


async def test_list_is_newest_first_and_paginates(stack: Stack) -> None:
    ids = [(await stack.create_order(merchant_order_id=f"list-{i}"))["id"] for i in range(5)]
    page = await stack.api.get("/api/v1/orders?limit=2", headers=stack.merchant_headers)
    assert [o["id"] for o in page.json()["data"]] == ids[::-1][:2]
    assert page.json()["has_more"] is True
    cursor = page.json()["next_cursor"]
    rest = await stack.api.get(
        f"/api/v1/orders?limit=10&starting_after={cursor}", headers=stack.merchant_headers
    )
    assert [o["id"] for o in rest.json()["data"]] == ids[::-1][2:]
    assert rest.json()["has_more"] is False
    bad = await stack.api.get("/api/v1/orders?limit=1000", headers=stack.merchant_headers)
    assert bad.status_code == 400


async def test_close_an_unpaid_order(stack: Stack) -> None:
    order = await stack.create_order(mchid=CERTIFICATE_MCHID)
    closed = await stack.api.post(
        f"/api/v1/orders/{order['id']}/close", headers=stack.merchant_headers
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "CLOSED"
    again = await stack.api.post(
        f"/api/v1/orders/{order['id']}/close", headers=stack.merchant_headers
    )
    assert again.json()["state"] == "CLOSED"
    missing = await stack.api.post("/api/v1/orders/ord_nope/close", headers=stack.merchant_headers)
    assert missing.status_code == 404
