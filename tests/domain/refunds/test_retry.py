"""retry_pending_refunds: lost answers, failures, lost notifications, abnormal refunds — always
under the same out_refund_no, and never a second refund at WeChat."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from paydesk.db.engine import create_engine
from paydesk.db.enums import RefundState
from paydesk.db.models import IdempotencyKey, Refund
from paydesk.domain.context import Services
from paydesk.domain.errors import NotFound
from paydesk.domain.idempotency import STALE_LOCK
from paydesk.domain.refunds import (
    RetryRound,
    remote,
    request_refund,
    retry,
    retry_delay,
    retry_pending_refunds,
)
from tests.domain.refunds.flows import (
    ask_refund,
    fault,
    impatient_wechat,
    order_json,
    paid_order,
    refund_json,
    settle_at_wechat,
    wechat_refunds,
)
from tests.stack import CERTIFICATE_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends

NOW = timedelta(0)  # base_delay for "everything open is due"
REFUNDS_PATH = "/v3/refund/domestic/refunds"


@pytest.mark.parametrize(
    ("attempts", "base", "seconds"),
    [
        (1, 60, 60),  # WeChat: first query a minute after applying
        (2, 60, 120),
        (4, 60, 480),
        (7, 60, 3600),  # 64 min, capped at an hour
        (500, 60, 3600),  # no overflow however often
        (0, 60, 60),
        (3, 0, 0),  # base 0: everything open is due
    ],
)
def test_the_delay_doubles_up_to_an_hour(attempts: int, base: int, seconds: int) -> None:
    assert retry_delay(attempts, timedelta(seconds=base)) == timedelta(seconds=seconds)


async def test_a_lost_answer_is_resubmitted_under_the_same_number_once(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="timeout", path=REFUNDS_PATH, seconds=3, times=1)
    async with impatient_wechat(stack, wait=0.3):
        refund = await request_refund(stack.services, order["id"], amount=40)
    assert refund.state == RefundState.PENDING
    assert refund.last_error is not None
    assert refund.last_error.startswith("OutcomeUnknown")
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert [r["out_refund_no"] for r in at_wechat] == [refund.out_refund_no]  # it did act

    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert (swept.resubmitted, swept.queried, dict(swept.results)) == (1, 0, {"changed": 1})
    view = await refund_json(stack, refund.id)
    assert (view["state"], view["attempts"], view["last_error"]) == ("PROCESSING", 2, None)
    await settle_at_wechat(stack)
    assert (await refund_json(stack, refund.id))["state"] == "SUCCESS"
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert [(r["out_refund_no"], r["refund"]) for r in at_wechat] == [(refund.out_refund_no, 40)]
    assert (await order_json(stack, order["id"]))["state"] == "PARTIALLY_REFUNDED"


async def test_wechat_failures_leave_it_pending_until_a_retry_gets_through(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    # the client itself retries a 5xx twice with the same bytes: three failures in a row
    await fault(stack, kind="5xx", path=REFUNDS_PATH, times=3)
    refund = await request_refund(stack.services, order["id"], amount=100, reason="退货")
    assert refund.state == RefundState.PENDING
    assert refund.last_error is not None
    assert refund.last_error.startswith("SYSTEM_ERROR")
    assert await wechat_refunds(stack, order["out_trade_no"]) == []  # 5xx: WeChat did nothing
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 100  # still reserved

    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert swept.resubmitted == 1
    await settle_at_wechat(stack)
    assert (await refund_json(stack, refund.id))["state"] == "SUCCESS"
    assert (await order_json(stack, order["id"]))["state"] == "REFUNDED"
    assert len(await wechat_refunds(stack, order["out_trade_no"])) == 1


async def test_a_lost_notification_is_made_up_for_by_a_query(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="drop", path="/api/v1/notify/")
    answer = await ask_refund(stack, order["id"], 25)
    refund_id = answer.json()["id"]
    await settle_at_wechat(stack)
    assert (await refund_json(stack, refund_id))["state"] == "PROCESSING"

    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert (swept.resubmitted, swept.queried, dict(swept.results)) == (0, 1, {"changed": 1})
    assert (await refund_json(stack, refund_id))["state"] == "SUCCESS"
    quiet = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert quiet == RetryRound()


async def test_an_abnormal_refund_is_retried_under_its_number_until_resolved(
    stack: Stack,
) -> None:
    order = await paid_order(stack, amount=100)
    number = "SHOP-R-ABNORMAL-1"
    armed = await stack.sandbox_client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": number, "status": "ABNORMAL"}
    )
    assert armed.json()["applied"] == "armed"
    answer = await ask_refund(stack, order["id"], 60, out_refund_no=number)
    refund_id = answer.json()["id"]
    await settle_at_wechat(stack)  # REFUND.ABNORMAL is notified
    view = await refund_json(stack, refund_id)
    assert view["state"] == "ABNORMAL"
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 60  # money is at WeChat

    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert (swept.resubmitted, dict(swept.results)) == (1, {"duplicate": 1})
    assert (await refund_json(stack, refund_id))["state"] == "ABNORMAL"

    # The merchant handles it at WeChat (merchant platform / apply-abnormal-refund); its
    # notification is lost, so only the retry under the same number can tell.
    await fault(stack, kind="drop", path="/api/v1/notify/")
    (record,) = stack.sandbox.pay.book.find_refunds(number)
    stack.sandbox.pay.settle_refund(record, "SUCCESS")
    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert (swept.resubmitted, dict(swept.results)) == (1, {"changed": 1})
    assert (await refund_json(stack, refund_id))["state"] == "SUCCESS"
    assert (await order_json(stack, order["id"]))["state"] == "PARTIALLY_REFUNDED"
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert [(r["out_refund_no"], r["status"]) for r in at_wechat] == [(number, "SUCCESS")]


async def test_an_abnormal_refund_is_never_closed_by_a_refusal(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    number = "SHOP-R-ABNORMAL-2"
    await stack.sandbox_client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": number, "status": "ABNORMAL"}
    )
    refund_id = (await ask_refund(stack, order["id"], 60, out_refund_no=number)).json()["id"]
    await settle_at_wechat(stack)
    stack.sandbox.pay.reset()  # WeChat now refuses (and cannot find) everything
    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert dict(swept.results) == {"no_answer": 1}
    view = await refund_json(stack, refund_id)
    assert view["state"] == "ABNORMAL"
    assert view["last_error"].startswith("RESOURCE_NOT_EXISTS")
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 60


async def test_a_refusal_closes_the_refund_and_gives_the_amount_back(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    stack.sandbox.pay.reset()  # WeChat forgets the order: every refund is RESOURCE_NOT_EXISTS
    refund = await request_refund(stack.services, order["id"], amount=30)
    assert refund.state == RefundState.CLOSED
    assert refund.last_error is not None
    assert refund.last_error.startswith("RESOURCE_NOT_EXISTS")
    after = await order_json(stack, order["id"])
    assert (after["state"], after["refunded_amount"]) == ("PAID", 0)


async def test_a_pending_refund_refused_on_retry_is_closed_after_asking(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="5xx", path=REFUNDS_PATH, times=3)
    refund = await request_refund(stack.services, order["id"], amount=30)
    assert refund.state == RefundState.PENDING
    stack.sandbox.pay.reset()
    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert dict(swept.results) == {"changed": 1}
    assert (await refund_json(stack, refund.id))["state"] == "CLOSED"
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 0


async def test_only_refunds_whose_time_has_come_are_tried_and_by_one_sweeper(
    stack: Stack,
) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="5xx", path=REFUNDS_PATH, times=3)
    refund = await request_refund(stack.services, order["id"], amount=30)
    assert await retry_pending_refunds(stack.services) == RetryRound()  # tried a moment ago
    rounds = await asyncio.gather(
        *(retry_pending_refunds(stack.services, base_delay=NOW) for _ in range(4))
    )
    assert sum(r.resubmitted for r in rounds) == 1
    assert (await refund_json(stack, refund.id))["attempts"] == 2
    assert len(await wechat_refunds(stack, order["out_trade_no"])) == 1


async def test_a_sweeper_that_loses_the_claim_leaves_the_refund_alone(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="5xx", path=REFUNDS_PATH, times=3)
    refund = await request_refund(stack.services, order["id"], amount=30)
    claim = retry._claim

    async def rival_first(services: Services, refund_id: str, state: RefundState, n: int) -> bool:
        assert await claim(services, refund_id, state, n)  # another worker, a moment earlier
        return await claim(services, refund_id, state, n)

    monkeypatch.setattr(retry, "_claim", rival_first)
    assert await retry_pending_refunds(stack.services, base_delay=NOW) == RetryRound()
    assert (await refund_json(stack, refund.id))["attempts"] == 2
    assert await wechat_refunds(stack, order["out_trade_no"]) == []


async def test_the_wait_doubles_with_each_attempt(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="5xx", path=REFUNDS_PATH)  # WeChat stays sick
    refund = await request_refund(stack.services, order["id"], amount=30)
    minute = timedelta(minutes=1)
    await _touched(stack, refund.id, minutes_ago=1.5)
    tried = await retry_pending_refunds(stack.services, base_delay=minute)
    assert (tried.resubmitted, dict(tried.results)) == (1, {"no_answer": 1})  # 1 attempt: 1 min
    await _touched(stack, refund.id, minutes_ago=1.5)
    assert await retry_pending_refunds(stack.services, base_delay=minute) == RetryRound()
    await _touched(stack, refund.id, minutes_ago=2.5)  # 2 attempts: 2 min
    tried = await retry_pending_refunds(stack.services, base_delay=minute)
    assert tried.resubmitted == 1
    assert (await refund_json(stack, refund.id))["attempts"] == 3


async def _touched(stack: Stack, refund_id: str, *, minutes_ago: float) -> None:
    when = stack.services.clock.now() - timedelta(minutes=minutes_ago)
    async with stack.services.db.begin() as session:
        await session.execute(update(Refund).where(Refund.id == refund_id).values(updated_at=when))


async def test_a_refused_resubmission_of_a_refund_wechat_has_is_settled_not_closed(
    stack: Stack,
) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="timeout", path=REFUNDS_PATH, seconds=3, times=1)
    async with impatient_wechat(stack, wait=0.3):
        refund = await request_refund(stack.services, order["id"], amount=40, reason="first")
    # our stored request no longer matches what WeChat got: it refuses the re-entry
    # (INVALID_REQUEST), but it does have the refund, so the query's word is what counts
    async with stack.services.db.begin() as session:
        await session.execute(update(Refund).where(Refund.id == refund.id).values(reason="other"))
    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert dict(swept.results) == {"changed": 1}
    assert (await refund_json(stack, refund.id))["state"] == "PROCESSING"
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 40


async def test_a_refund_that_cannot_be_asked_about_is_counted_and_left(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await paid_order(stack, amount=100)
    await fault(stack, kind="5xx", path=REFUNDS_PATH, times=3)
    refund = await request_refund(stack.services, order["id"], amount=30)

    def removed(mchid: str, version: str, kind: str = "") -> str:
        raise NotFound("merchant_not_found", f"no merchant {mchid} is configured")

    monkeypatch.setattr(stack.services.registry, "notify_url", removed)
    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert dict(swept.results) == {"error": 1}
    assert (await refund_json(stack, refund.id))["state"] == "PENDING"


async def test_v2_refunds_are_queried_through_refundquery(make_stack: StackFactory) -> None:
    stack = await make_stack(api_versions={CERTIFICATE_MCHID: "v2"})
    order = await paid_order(stack, amount=100, mchid=CERTIFICATE_MCHID)
    assert order["api_version"] == "v2"
    await fault(stack, kind="drop", path="/api/v1/notify/")
    answer = await ask_refund(stack, order["id"], 100)
    assert answer.json()["state"] == "PROCESSING"
    await settle_at_wechat(stack)
    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert (swept.queried, dict(swept.results)) == (1, {"changed": 1})
    view = await refund_json(stack, answer.json()["id"])
    assert view["state"] == "SUCCESS"
    assert (await order_json(stack, order["id"]))["state"] == "REFUNDED"


async def test_a_database_lost_after_wechat_was_asked_answers_the_refund_not_an_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await paid_order(stack, amount=100)
    working = stack.services.db
    down = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/paydesk")
    asked = remote.submit

    async def ask_then_lose_the_database(services: Services, ask: remote.RefundAsk) -> Any:
        attempt = await asked(services, ask)
        stack.services.db = async_sessionmaker(down, expire_on_commit=False)
        return attempt

    monkeypatch.setattr(remote, "submit", ask_then_lose_the_database)
    try:
        answer = await ask_refund(stack, order["id"], 40, headers={"Idempotency-Key": "k-lost"})
    finally:
        stack.services.db = working
        monkeypatch.undo()
        await down.dispose()
    # Not a 503 that would tell the merchant to ask again (a second refund): the refund as
    # reserved, which the sweep then settles under its own number.
    assert answer.status_code == 201, answer.text
    refund = answer.json()
    assert (refund["state"], refund["amount"]) == ("PENDING", 40)
    again = await ask_refund(stack, order["id"], 40, headers={"Idempotency-Key": "k-lost"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "idempotency_key_in_use")
    async with stack.services.db.begin() as session:  # a minute on: the claim is stale
        await session.execute(
            update(IdempotencyKey).values(locked_at=stack.services.clock.now() - STALE_LOCK)
        )
    rerun = await ask_refund(stack, order["id"], 40, headers={"Idempotency-Key": "k-lost"})
    assert (rerun.status_code, rerun.json()["error"]["code"]) == (409, "duplicate_out_refund_no")

    swept = await retry_pending_refunds(stack.services, base_delay=NOW)
    assert swept.resubmitted == 1
    await settle_at_wechat(stack)
    at_wechat = await wechat_refunds(stack, order["out_trade_no"])
    assert [(r["out_refund_no"], r["refund"]) for r in at_wechat] == [(refund["out_refund_no"], 40)]
    assert (await refund_json(stack, refund["id"]))["state"] == "SUCCESS"
    assert (await order_json(stack, order["id"]))["refunded_amount"] == 40
