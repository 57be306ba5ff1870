"""Merchant refund routes: partial and full refunds through the sandbox, v3 (both key modes) and
v2, notifications, the never-more-than-paid guarantee under fifty concurrent requests,
Idempotency-Key, scoping, and precise 400s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from paydesk.db.models import OrderEvent, OutboxEvent
from paydesk.domain import apikeys
from paydesk.settings.config import ApiVersion
from tests.domain.refunds.flows import (
    ask_refund,
    order_json,
    paid_order,
    refund_json,
    settle_at_wechat,
    wechat_refunds,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends


async def _history(stack: Stack, order_id: str) -> list[tuple[str | None, str, bool]]:
    """``(from, to, is_refund_event)`` of the order's events, oldest first."""
    async with stack.services.db() as session:
        rows = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return [(e.from_state, e.to_state, e.refund_id is not None) for e in rows]


async def _outbox(stack: Stack, order_id: str) -> list[str]:
    async with stack.services.db() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.order_id == order_id))
        return sorted(e.type for e in rows)


@pytest.mark.parametrize(
    ("mchid", "version"),
    [(PUBLIC_KEY_MCHID, "v3"), (CERTIFICATE_MCHID, "v3"), (CERTIFICATE_MCHID, "v2")],
    ids=["v3-public-key", "v3-certificate", "v2"],
)
async def test_partial_then_full_refund_confirmed_by_notifications(
    make_stack: StackFactory, mchid: str, version: ApiVersion
) -> None:
    stack = await make_stack(api_versions={mchid: version})
    order = await paid_order(stack, amount=100, mchid=mchid)
    assert order["api_version"] == version

    first = await ask_refund(stack, order["id"], 30, reason="少发一件 one item missing")
    assert first.status_code == 201, first.text
    partial = first.json()
    assert partial["object"] == "refund"
    assert (partial["state"], partial["amount"], partial["order_id"]) == (
        "PROCESSING",
        30,
        order["id"],
    )
    assert partial["wechat_refund_id"]
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 30
    await settle_at_wechat(stack)
    assert (await refund_json(stack, partial["id"]))["state"] == "SUCCESS"
    assert (await order_json(stack, order["id"]))["state"] == "PARTIALLY_REFUNDED"

    rest = await ask_refund(stack, order["id"], 70)
    assert rest.status_code == 201, rest.text
    await settle_at_wechat(stack)
    final = await order_json(stack, order["id"])
    assert (final["state"], final["refunded_amount"]) == ("REFUNDED", 100)
    refunds = [partial["id"], rest.json()["id"]]
    assert [(await refund_json(stack, r))["state"] for r in refunds] == ["SUCCESS", "SUCCESS"]
    assert await _history(stack, order["id"]) == [
        (None, "CREATED", False),
        ("CREATED", "PAYING", False),
        ("PAYING", "PAID", False),
        (None, "PENDING", True),
        ("PENDING", "PROCESSING", True),
        ("PROCESSING", "SUCCESS", True),
        ("PAID", "PARTIALLY_REFUNDED", True),
        (None, "PENDING", True),
        ("PENDING", "PROCESSING", True),
        ("PROCESSING", "SUCCESS", True),
        ("PARTIALLY_REFUNDED", "REFUNDED", True),
    ]
    assert await _outbox(stack, order["id"]) == [
        "order.paid",
        "order.refunded",
        "refund.succeeded",
        "refund.succeeded",
    ]
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert sorted((r["refund"], r["status"]) for r in at_wechat) == [
        (30, "SUCCESS"),
        (70, "SUCCESS"),
    ]
    more = await ask_refund(stack, order["id"], 1)
    assert more.status_code == 409
    assert more.json()["error"]["code"] == "refund_exceeds_paid"
    assert more.json()["error"]["refundable"] == 0


async def test_repeated_refund_notifications_apply_once(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    added = await stack.sandbox_client.post(
        "/_sandbox/faults", json={"kind": "duplicate", "path": "/api/v1/notify/"}
    )
    assert added.status_code == 200
    refund = (await ask_refund(stack, order["id"], 100)).json()
    await settle_at_wechat(stack)
    sent = await stack.sandbox_client.get(
        "/_sandbox/notifications", params={"out_trade_no": order["out_trade_no"]}
    )
    refund_attempts = [
        a for a in sent.json()["attempts"] if a["out_refund_no"] == refund["out_refund_no"]
    ]
    assert len(refund_attempts) == 2
    assert all(a["status"] == 204 for a in refund_attempts)
    assert (await refund_json(stack, refund["id"]))["state"] == "SUCCESS"
    assert (await order_json(stack, order["id"]))["state"] == "REFUNDED"
    assert await _outbox(stack, order["id"]) == ["order.paid", "order.refunded", "refund.succeeded"]


async def _ask_as_told(stack: Stack, order_id: str, amount: int) -> Any:
    """A refund request sent again after a 503, as its Retry-After says: on SQLite the fifty
    queue for one writer, and on a loaded machine the last may wait past the writer timeout
    (a 503 commits nothing, so sending it again is safe)."""
    for _ in range(20):
        answer = await ask_refund(stack, order_id, amount)
        if answer.status_code != 503:
            return answer
        await asyncio.sleep(0.2)
    return answer


async def test_fifty_concurrent_refunds_never_exceed_what_was_paid(stack: Stack) -> None:
    order = await paid_order(stack, amount=30)
    answers = await asyncio.gather(*(_ask_as_told(stack, order["id"], 1) for _ in range(50)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 30 + [409] * 20
    refused = {a.json()["error"]["code"] for a in answers if a.status_code == 409}
    assert refused == {"refund_exceeds_paid"}
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 30
    await settle_at_wechat(stack)
    final = await order_json(stack, order["id"])
    assert (final["state"], final["refunded_amount"]) == ("REFUNDED", 30)
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert len(at_wechat) == 30
    assert sum(r["refund"] for r in at_wechat) == 30
    assert {r["status"] for r in at_wechat} == {"SUCCESS"}


async def test_idempotency_key_replays_the_refund_and_refunds_once(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    key = {"Idempotency-Key": "refund-1"}
    first = await ask_refund(stack, order["id"], 10, headers=key)
    again = await ask_refund(stack, order["id"], 10, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = await ask_refund(stack, order["id"], 11, headers=key)
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert len(await wechat_refunds(stack, order["out_trade_no"])) == 1
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 10


async def test_a_merchants_own_refund_number_is_used_and_unique(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    mine = await ask_refund(stack, order["id"], 10, out_refund_no="SHOP-R-0001")
    assert mine.status_code == 201, mine.text
    assert mine.json()["out_refund_no"] == "SHOP-R-0001"
    clash = await ask_refund(stack, order["id"], 10, out_refund_no="SHOP-R-0001")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "duplicate_out_refund_no"
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert [r["out_refund_no"] for r in at_wechat] == ["SHOP-R-0001"]


async def test_unpaid_missing_and_excessive_refunds(stack: Stack) -> None:
    unpaid = await stack.create_order(amount=100)
    answer = await ask_refund(stack, unpaid["id"], 10)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "order_not_paid"
    assert answer.json()["error"]["state"] == "CREATED"
    missing = await ask_refund(stack, "ord_missing", 10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "order_not_found"
    order = await paid_order(stack, amount=100)
    await ask_refund(stack, order["id"], 60)
    too_much = await ask_refund(stack, order["id"], 41)
    assert too_much.status_code == 409
    error = too_much.json()["error"]
    assert (error["code"], error["refundable"]) == ("refund_exceeds_paid", 40)
    assert error["request_id"].startswith("req_")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "10"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 2**31}, "amount"),
        ({"amount": 1, "reason": ""}, "reason"),
        ({"amount": 1, "reason": "x" * 81}, "reason"),
        ({"amount": 1, "out_refund_no": "has space"}, "out_refund_no"),
        ({"amount": 1, "out_refund_no": "R" * 65}, "out_refund_no"),
        ({"amount": 1, "surprise": 1}, "surprise"),
    ],
)
async def test_bad_refund_requests_get_a_precise_400(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    order = await stack.create_order(amount=100)
    answer = await stack.api.post(
        f"/api/v1/orders/{order['id']}/refunds", json=body, headers=stack.merchant_headers
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(field)


async def test_emoji_reasons_and_malformed_json_are_400(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    emoji = await ask_refund(stack, order["id"], 1, reason="生日快乐 🎂")
    assert emoji.status_code == 400
    assert emoji.json()["error"]["code"] == "invalid_reason"
    broken = await stack.api.post(
        f"/api/v1/orders/{order['id']}/refunds",
        content=b'{"amount": ',
        headers={**stack.merchant_headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 0


async def test_reading_and_listing_refunds_is_merchant_scoped(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    other = await paid_order(stack, amount=100, mchid=CERTIFICATE_MCHID)
    made = [(await ask_refund(stack, order["id"], 10)).json()["id"] for _ in range(3)]
    theirs = (await ask_refund(stack, other["id"], 5)).json()["id"]

    page = await stack.api.get("/api/v1/refunds?limit=2", headers=stack.merchant_headers)
    assert page.status_code == 200, page.text
    assert [r["id"] for r in page.json()["data"]] == [theirs, made[2]]
    assert page.json()["has_more"] is True
    cursor = page.json()["next_cursor"]
    rest = await stack.api.get(
        f"/api/v1/refunds?starting_after={cursor}", headers=stack.merchant_headers
    )
    assert [r["id"] for r in rest.json()["data"]] == [made[1], made[0]]
    assert rest.json()["has_more"] is False
    by_order = await stack.api.get(
        f"/api/v1/refunds?order_id={order['id']}&state=PROCESSING", headers=stack.merchant_headers
    )
    assert [r["id"] for r in by_order.json()["data"]] == made[::-1]
    none = await stack.api.get("/api/v1/refunds?state=SUCCESS", headers=stack.merchant_headers)
    assert none.json()["data"] == []
    bad = await stack.api.get("/api/v1/refunds?state=LOST", headers=stack.merchant_headers)
    assert bad.status_code == 400

    async with stack.services.db.begin() as session:
        scoped, _ = await apikeys.create_api_key(
            session,
            name="cert shop",
            mchid=CERTIFICATE_MCHID,
            ids=stack.services.ids,
            now=stack.services.clock.now(),
        )
    headers = {"Authorization": f"Bearer {scoped}"}
    mine = await stack.api.get("/api/v1/refunds", headers=headers)
    assert [r["id"] for r in mine.json()["data"]] == [theirs]
    hidden = await stack.api.get(f"/api/v1/refunds/{made[0]}", headers=headers)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "refund_not_found"
    not_theirs = await stack.api.post(
        f"/api/v1/orders/{order['id']}/refunds", json={"amount": 1}, headers=headers
    )
    assert not_theirs.status_code == 404
    unauthenticated = await stack.api.get("/api/v1/refunds")
    assert unauthenticated.status_code == 401


async def test_an_overlong_refund_id_is_a_400_not_a_lookup(stack: Stack) -> None:
    answer = await stack.api.get("/api/v1/refunds/" + "r" * 65, headers=stack.merchant_headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("refund_id")
