"""POST /api/v1/notify/wechatpay/{v3,v2}/{mchid}: the sandbox notifies, paydesk answers.

Real deliveries come from the sandbox (its payer pays, its dispatcher posts back into the API
in-process); notifications the sandbox would never send are sealed with its own keys.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

from paydesk.api.routes import notify
from paydesk.db.engine import create_engine
from paydesk.db.enums import NotificationKind, OrderState
from paydesk.db.models import Payment
from paydesk.domain.orders.states import transition
from paydesk.protocol.v2.notify import NOTIFY_SUCCESS_XML
from paydesk.settings.config import ApiVersion, SignTypeV2
from tests.domain.notifications.world import (
    anomaly_kinds,
    merchant,
    order_row,
    outbox_types,
    paid_events,
    pay_at_sandbox,
    paying_order,
    refund_at_sandbox,
    refund_state,
    seal_v3,
    stored,
    transaction,
    unix,
    v2_payment,
    verdicts,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends

V3 = "/api/v1/notify/wechatpay/v3/"
V2 = "/api/v1/notify/wechatpay/v2/"


async def _sandbox_attempts(stack: Stack, out_trade_no: str) -> list[tuple[str, int | None]]:
    response = await stack.sandbox_client.get(
        "/_sandbox/notifications", params={"out_trade_no": out_trade_no}
    )
    return [(a["kind"], a["status"]) for a in response.json()["attempts"]]


@pytest.mark.parametrize("mchid", [PUBLIC_KEY_MCHID, CERTIFICATE_MCHID])
async def test_a_sandbox_payment_notification_makes_the_order_paid(
    stack: Stack, mchid: str
) -> None:
    paying = await paying_order(stack, mchid=mchid, amount=888)
    paid = await pay_at_sandbox(stack, paying)
    order = await order_row(stack, paying.order_id)
    assert (order.state, order.paid_amount) == ("PAID", 888)
    assert order.transaction_id == paid["transaction_id"]
    assert await _sandbox_attempts(stack, paying.out_trade_no) == [("real", 204)]
    (row,) = await stored(stack)
    assert (row.verdict, row.event_id) == ("applied", paid["notification"]["event_id"])
    assert row.headers["wechatpay-serial"] == merchant(stack, mchid).platform_serial


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_a_sandbox_v2_notification_makes_the_order_paid(
    make_stack: StackFactory, sign_type: SignTypeV2
) -> None:
    stack = await make_stack(api_versions={CERTIFICATE_MCHID: "v2"}, v2_sign_type=sign_type)
    paying = await paying_order(stack, mchid=CERTIFICATE_MCHID, amount=77)
    await pay_at_sandbox(stack, paying)
    assert (await order_row(stack, paying.order_id)).state == "PAID"
    assert await _sandbox_attempts(stack, paying.out_trade_no) == [("real", 200)]
    assert await verdicts(stack) == ["applied"]


@pytest.mark.parametrize("version", ["v3", "v2"])
async def test_a_sandbox_refund_notification_settles_the_refund(
    make_stack: StackFactory, version: ApiVersion
) -> None:
    stack = await make_stack(api_versions={PUBLIC_KEY_MCHID: version})
    paying = await paying_order(stack, amount=100)
    await pay_at_sandbox(stack, paying)
    refund = await refund_at_sandbox(stack, paying, 100)
    assert await refund_state(stack, refund["id"]) == "SUCCESS"
    assert (await order_row(stack, paying.order_id)).state == "REFUNDED"
    rows = await stored(stack)
    assert [(r.kind, r.verdict, r.api_version) for r in rows] == [
        (NotificationKind.PAYMENT, "applied", version),
        (NotificationKind.REFUND, "applied", version),
    ]
    assert rows[1].order_id == paying.order_id


async def test_the_v2_answers(stack: Stack) -> None:
    paying = await paying_order(stack)
    body = v2_payment(stack, paying, sign_type="HMAC-SHA256")
    accepted = await stack.api.post(V2 + paying.mchid, content=body)
    forged = await stack.api.post(V2 + paying.mchid, content=body.replace(b"JSAPI", b"NATIVE"))
    unknown = await stack.api.post(V2 + "1999999999", content=body)
    assert (accepted.status_code, accepted.content) == (200, NOTIFY_SUCCESS_XML)
    assert accepted.headers["content-type"] == "application/xml"
    assert forged.status_code == 401
    assert forged.text.startswith("<xml><return_code><![CDATA[FAIL]]></return_code>")
    assert unknown.status_code == 404
    assert "FAIL" in unknown.text
    assert await verdicts(stack) == ["applied", "rejected_signature"]


async def test_a_duplicated_delivery_is_applied_once(stack: Stack) -> None:
    faults = await stack.sandbox_client.post("/_sandbox/faults", json={"kind": "duplicate"})
    assert faults.status_code == 200, faults.text
    paying = await paying_order(stack)
    await pay_at_sandbox(stack, paying)
    assert await _sandbox_attempts(stack, paying.out_trade_no) == [
        ("real", 204),
        ("duplicate", 204),
    ]
    assert await verdicts(stack) == ["applied", "duplicate"]
    assert await paid_events(stack, paying.order_id) == 1
    assert (await outbox_types(stack, paying.order_id)).count("order.paid") == 1


async def test_the_stored_row_replays_byte_for_byte_as_a_duplicate(stack: Stack) -> None:
    paying = await paying_order(stack)
    await pay_at_sandbox(stack, paying)
    (row,) = await stored(stack)
    replay = await stack.api.post(V3 + paying.mchid, content=row.body, headers=row.headers)
    assert replay.status_code == 204
    assert await verdicts(stack) == ["applied", "duplicate"]
    assert await paid_events(stack, paying.order_id) == 1


async def test_a_signtest_probe_is_refused_then_the_real_one_applied(stack: Stack) -> None:
    await stack.sandbox_client.post("/_sandbox/faults", json={"kind": "signtest"})
    paying = await paying_order(stack)
    await pay_at_sandbox(stack, paying)
    assert await _sandbox_attempts(stack, paying.out_trade_no) == [("probe", 401), ("real", 204)]
    assert await verdicts(stack) == ["rejected_probe", "applied"]
    assert await paid_events(stack, paying.order_id) == 1


@pytest.mark.parametrize(
    ("case", "status", "verdict", "anomalies"),
    [
        ("forged", 401, "rejected_signature", []),
        ("stale", 401, "rejected_stale", []),
        ("future", 401, "rejected_stale", []),
        ("probe", 401, "rejected_probe", []),
        ("foreign_key", 401, "rejected_signature", []),
        ("foreign_mchid", 204, "anomaly:merchant_mismatch", ["merchant_mismatch"]),
        ("wrong_amount", 204, "anomaly:amount_mismatch", ["amount_mismatch"]),
    ],
)
async def test_bad_notifications_change_no_order(
    stack: Stack, case: str, status: int, verdict: str, anomalies: list[str]
) -> None:
    paying = await paying_order(stack, mchid=PUBLIC_KEY_MCHID, amount=100)
    now = unix(stack.services.clock.now())
    plaintext = transaction(paying)
    headers, body = {
        "forged": lambda: seal_v3(stack, PUBLIC_KEY_MCHID, plaintext),
        "stale": lambda: seal_v3(stack, PUBLIC_KEY_MCHID, plaintext, timestamp=now - 330),
        "future": lambda: seal_v3(stack, PUBLIC_KEY_MCHID, plaintext, timestamp=now + 330),
        "probe": lambda: seal_v3(stack, PUBLIC_KEY_MCHID, plaintext, probe=True),
        "foreign_key": lambda: seal_v3(
            stack, PUBLIC_KEY_MCHID, plaintext, signed_by=CERTIFICATE_MCHID
        ),
        "foreign_mchid": lambda: seal_v3(
            stack, PUBLIC_KEY_MCHID, transaction(paying, mchid=CERTIFICATE_MCHID)
        ),
        "wrong_amount": lambda: seal_v3(stack, PUBLIC_KEY_MCHID, transaction(paying, total=1)),
    }[case]()
    if case == "forged":
        body = body.replace(b'"id":"EV-', b'"id":"EW-')
    response = await stack.api.post(V3 + PUBLIC_KEY_MCHID, content=body, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["code"] == "FAIL"
    assert await verdicts(stack) == [verdict]
    assert await anomaly_kinds(stack) == anomalies
    order = await order_row(stack, paying.order_id)
    assert (order.state, order.version) == ("PAYING", 1)


async def test_an_unknown_merchant_is_a_404(stack: Stack) -> None:
    response = await stack.api.post(V3 + "1999999999", content=b"{}")
    assert response.status_code == 404
    assert response.json()["code"] == "FAIL"


async def test_100_identical_notifications_at_once_make_one_transition(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite the 100 queue for one writer; on a loaded machine the last ones could pass
    # the reply deadline (tested on its own below), which is not what this test is about.
    monkeypatch.setattr(notify, "REPLY_DEADLINE_SECONDS", 60.0)
    paying = await paying_order(stack, amount=500)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying, total=500))
    responses = await asyncio.gather(
        *(stack.api.post(V3 + paying.mchid, content=body, headers=headers) for _ in range(100))
    )
    assert [r.status_code for r in responses] == [204] * 100
    found = await verdicts(stack)
    assert (found.count("applied"), found.count("duplicate"), len(found)) == (1, 99, 100)
    assert await paid_events(stack, paying.order_id) == 1
    assert await outbox_types(stack, paying.order_id) == ["order.paid"]
    assert (await order_row(stack, paying.order_id)).state == "PAID"


async def test_payment_after_close_is_an_anomaly_and_the_order_stays_closed(
    stack: Stack,
) -> None:
    paying = await paying_order(stack)
    # Closed here only (say, by a sweep whose close call to WeChat was lost): the payer can
    # still pay the prepay at WeChat.
    async with stack.services.db.begin() as session:
        await transition(
            session,
            order_id=paying.order_id,
            to=OrderState.CLOSED,
            cause="test.close",
            now=stack.services.clock.now(),
            ids=stack.services.ids,
        )
    await pay_at_sandbox(stack, paying)
    assert await _sandbox_attempts(stack, paying.out_trade_no) == [("real", 204)]
    assert await verdicts(stack) == ["anomaly:paid_after_close"]
    assert await anomaly_kinds(stack) == ["paid_after_close"]
    assert (await order_row(stack, paying.order_id)).state == "CLOSED"
    assert await outbox_types(stack, paying.order_id) == ["order.closed", "anomaly.created"]


async def test_a_database_outage_is_a_500_and_the_retry_applies(stack: Stack) -> None:
    paying = await paying_order(stack)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying))
    xml = v2_payment(stack, paying, sign_type="HMAC-SHA256")
    working = stack.services.db
    down = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/paydesk")
    stack.services.db = async_sessionmaker(down, expire_on_commit=False)
    try:
        failed = await stack.api.post(V3 + paying.mchid, content=body, headers=headers)
        failed_v2 = await stack.api.post(V2 + paying.mchid, content=xml)
    finally:
        stack.services.db = working
        await down.dispose()
    assert (failed.status_code, failed.json()["code"]) == (500, "FAIL")
    assert failed_v2.status_code == 500
    assert "FAIL" in failed_v2.text
    assert await stored(stack) == []
    retried = await stack.api.post(V3 + paying.mchid, content=body, headers=headers)
    assert retried.status_code == 204
    assert await verdicts(stack) == ["applied"]


async def test_work_past_the_deadline_answers_500_and_still_finishes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "REPLY_DEADLINE_SECONDS", 0.3)
    paying = await paying_order(stack)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying))
    async with stack.services.db.begin() as blocker:  # holds the payment row (PG) / the db
        await blocker.execute(
            update(Payment)
            .where(Payment.out_trade_no == paying.out_trade_no)
            .values(trade_state="NOTPAY")
        )
        started = time.monotonic()
        late = await stack.api.post(V3 + paying.mchid, content=body, headers=headers)
        waited = time.monotonic() - started
    assert late.status_code == 500
    assert waited < 3  # without the deadline: SQLite's 5 s busy timeout, or forever on PG
    await stack.app.state.in_flight.finish(grace_seconds=30)
    assert await verdicts(stack) == ["applied"]
    retried = await stack.api.post(V3 + paying.mchid, content=body, headers=headers)
    assert retried.status_code == 204
    assert await verdicts(stack) == ["applied", "duplicate"]


async def test_late_work_that_then_fails_is_logged(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(notify, "REPLY_DEADLINE_SECONDS", 0.05)

    async def slow_then_broken(*args: object, **kwargs: object) -> notify.Receipt:
        await asyncio.sleep(0.3)
        raise OperationalError("INSERT INTO notifications", {}, ConnectionResetError())

    monkeypatch.setattr(notify, "receive_v3", slow_then_broken)
    response = await stack.api.post(V3 + PUBLIC_KEY_MCHID, content=b"{}")
    assert response.status_code == 500
    assert "late notification work failed" not in caplog.text
    await stack.app.state.in_flight.finish(grace_seconds=30)
    assert "late notification work failed" in caplog.text
