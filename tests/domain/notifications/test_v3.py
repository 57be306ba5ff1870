"""receive_v3: verify with the URL merchant's keys, then decrypt, then settle — or refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from paydesk.db.enums import NotificationKind
from paydesk.domain.clock import FixedClock
from paydesk.domain.notifications.receipts import Verdict
from paydesk.domain.notifications.v3 import receive_v3
from paydesk.protocol.v3.notify import MAX_NOTIFICATION_BYTES
from tests.domain.notifications.world import (
    anomaly_kinds,
    merchant,
    order_row,
    outbox_types,
    paid_events,
    pay_at_sandbox,
    paying_order,
    refund_at_sandbox,
    refund_plaintext,
    refund_state,
    seal_v3,
    sign_raw_v3,
    stored,
    transaction,
    unix,
    verdicts,
)
from tests.stack import CERTIFICATE_MCHID, OA_APPID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends


@pytest.mark.parametrize("mchid", [PUBLIC_KEY_MCHID, CERTIFICATE_MCHID])
async def test_a_verified_success_pays_the_order_once(stack: Stack, mchid: str) -> None:
    paying = await paying_order(stack, mchid=mchid, amount=321)
    headers, body = seal_v3(stack, mchid, transaction(paying))
    first = await receive_v3(stack.services, mchid, headers, body)
    again = await receive_v3(stack.services, mchid, headers, body)
    assert (first.verdict, first.status, first.order_id) == ("applied", 204, paying.order_id)
    assert (again.verdict, again.status) == ("duplicate", 204)
    order = await order_row(stack, paying.order_id)
    assert order.state == "PAID"
    assert order.paid_amount == 321
    assert order.transaction_id == transaction(paying)["transaction_id"]
    assert await paid_events(stack, paying.order_id) == 1
    assert (await outbox_types(stack, paying.order_id)).count("order.paid") == 1
    rows = await stored(stack)
    assert [r.verdict for r in rows] == ["applied", "duplicate"]
    assert rows[0].event_id == "EV-2026010100000001"
    assert rows[0].kind == NotificationKind.PAYMENT
    assert rows[0].order_id == paying.order_id
    assert rows[0].body == body.decode()
    assert rows[0].headers["wechatpay-signature"] == headers["Wechatpay-Signature"]


async def test_a_changed_byte_is_refused_and_changes_nothing(stack: Stack) -> None:
    paying = await paying_order(stack)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying))
    forged = body.replace(b"\xe6\x94\xaf", b"\xe6\x94\xae", 1)  # one byte of the summary
    assert forged != body
    receipt = await receive_v3(stack.services, paying.mchid, headers, forged)
    assert (receipt.verdict, receipt.status) == ("rejected_signature", 401)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"
    rows = await stored(stack)
    assert [(r.verdict, r.kind, r.event_id, r.order_id) for r in rows] == [
        ("rejected_signature", NotificationKind.UNKNOWN, None, None)
    ]
    assert rows[0].body == forged.decode()
    assert await outbox_types(stack) == []


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [(-300, "rejected_stale"), (300, "rejected_stale"), (-299, "applied"), (299, "applied")],
)
async def test_the_timestamp_must_be_within_300_seconds(
    make_stack: StackFactory, offset: int, verdict: str
) -> None:
    stack = await make_stack(clock=FixedClock(datetime.now(UTC)))  # the boundary is exact
    paying = await paying_order(stack)
    now = unix(stack.services.clock.now())
    headers, body = seal_v3(stack, paying.mchid, transaction(paying), timestamp=now + offset)
    receipt = await receive_v3(stack.services, paying.mchid, headers, body)
    assert receipt.verdict == verdict
    expected = "PAID" if verdict == "applied" else "PAYING"
    assert (await order_row(stack, paying.order_id)).state == expected


async def test_a_signtest_probe_is_refused(stack: Stack) -> None:
    paying = await paying_order(stack)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying), probe=True)
    receipt = await receive_v3(stack.services, paying.mchid, headers, body)
    assert (receipt.verdict, receipt.status) == ("rejected_probe", 401)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


async def test_another_merchants_key_never_verifies(stack: Stack) -> None:
    paying = await paying_order(stack, mchid=PUBLIC_KEY_MCHID)
    plaintext = transaction(paying)
    # The other merchant's key under its own serial: a serial we do not hold for this merchant.
    headers, body = seal_v3(stack, PUBLIC_KEY_MCHID, plaintext, signed_by=CERTIFICATE_MCHID)
    unknown = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    # … and under this merchant's serial: the signature does not match that key.
    own_serial = merchant(stack, PUBLIC_KEY_MCHID).platform_serial
    headers, body = seal_v3(
        stack, PUBLIC_KEY_MCHID, plaintext, signed_by=CERTIFICATE_MCHID, serial=own_serial
    )
    mismatch = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert [unknown.status, mismatch.status] == [401, 401]
    rows = await stored(stack)
    assert [r.verdict for r in rows] == ["rejected_signature", "rejected_signature"]
    assert "no key for serial" in (rows[0].detail or "")
    assert "does not match" in (rows[1].detail or "")
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


async def test_a_foreign_mchid_inside_the_body_is_an_anomaly(stack: Stack) -> None:
    paying = await paying_order(stack, mchid=PUBLIC_KEY_MCHID)
    # Correctly signed by this merchant's platform key, but the body names the other merchant.
    headers, body = seal_v3(stack, PUBLIC_KEY_MCHID, transaction(paying, mchid=CERTIFICATE_MCHID))
    receipt = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert (receipt.verdict, receipt.status) == ("anomaly:merchant_mismatch", 204)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"
    assert await anomaly_kinds(stack) == ["merchant_mismatch"]
    assert await outbox_types(stack) == ["anomaly.created"]


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"total": 101}, "amount_mismatch"),
        ({"appid": OA_APPID}, "app_mismatch"),
        ({"out_trade_no": "PD_NOT_OURS_0001"}, "unknown_order"),
    ],
)
async def test_verified_but_inconsistent_is_acknowledged_and_recorded(
    stack: Stack, changes: dict[str, object], kind: str
) -> None:
    paying = await paying_order(stack, amount=100)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying, **changes))
    receipt = await receive_v3(stack.services, paying.mchid, headers, body)
    assert (receipt.verdict, receipt.status) == (f"anomaly:{kind}", 204)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"
    assert await anomaly_kinds(stack) == [kind]
    assert await paid_events(stack, paying.order_id) == 0


async def test_missing_signature_headers_are_a_signature_refusal(stack: Stack) -> None:
    paying = await paying_order(stack)
    headers, body = seal_v3(stack, paying.mchid, transaction(paying))
    del headers["Wechatpay-Signature"]
    receipt = await receive_v3(stack.services, paying.mchid, headers, body)
    assert (receipt.verdict, receipt.status) == ("rejected_signature", 401)
    assert "Wechatpay-Signature is missing" in receipt.message


async def test_a_body_over_the_cap_is_refused_unread(stack: Stack) -> None:
    body = b"{" + b" " * MAX_NOTIFICATION_BYTES + b"}"
    receipt = await receive_v3(stack.services, PUBLIC_KEY_MCHID, {}, body)
    assert (receipt.verdict, receipt.status) == ("rejected_too_large", 413)
    (row,) = await stored(stack)
    assert len(row.body) == 1024


async def test_verified_but_undecryptable_or_unreadable(stack: Stack) -> None:
    paying = await paying_order(stack)
    wrong_key = "k" * 32
    headers, body = seal_v3(stack, paying.mchid, transaction(paying), apiv3_key=wrong_key)
    undecryptable = await receive_v3(stack.services, paying.mchid, headers, body)
    headers, body = seal_v3(stack, paying.mchid, b'{"appid": 5}')
    unreadable = await receive_v3(stack.services, paying.mchid, headers, body)
    assert (undecryptable.verdict, undecryptable.status) == ("rejected_decrypt", 401)
    assert (unreadable.verdict, unreadable.status) == ("rejected_malformed", 400)
    rows = await stored(stack)
    assert rows[1].event_id == "EV-2026010100000001"
    assert rows[1].kind == NotificationKind.PAYMENT
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


async def test_a_verified_envelope_that_is_not_one_is_malformed(stack: Stack) -> None:
    headers, body = sign_raw_v3(stack, PUBLIC_KEY_MCHID, json.dumps({"id": "EV-1"}).encode())
    receipt = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert (receipt.verdict, receipt.status) == ("rejected_malformed", 400)


async def test_other_verified_events_are_stored_and_acknowledged(stack: Stack) -> None:
    paying = await paying_order(stack)
    headers, body = seal_v3(
        stack, paying.mchid, {"hello": 1}, event_type="MCHTRANSFER.BILL.FINISHED"
    )
    receipt = await receive_v3(stack.services, paying.mchid, headers, body)
    assert (receipt.verdict, receipt.status) == ("ignored_event", 204)
    assert await verdicts(stack) == ["ignored_event"]


async def test_an_unknown_merchant_is_refused_and_not_stored(stack: Stack) -> None:
    receipt = await receive_v3(stack.services, "1999999999", {}, b"{}")
    assert (receipt.verdict, receipt.status, receipt.notification_id) == (
        Verdict.UNKNOWN_MERCHANT,
        404,
        None,
    )
    assert await stored(stack) == []


async def test_a_refund_we_do_not_know_is_an_anomaly(stack: Stack) -> None:
    headers, body = seal_v3(
        stack,
        PUBLIC_KEY_MCHID,
        refund_plaintext(PUBLIC_KEY_MCHID),
        event_type="REFUND.SUCCESS",
        original_type="refund",
    )
    receipt = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert (receipt.verdict, receipt.status) == ("anomaly:unknown_refund", 204)
    (row,) = await stored(stack)
    assert (row.kind, row.event_id, row.order_id) == (
        NotificationKind.REFUND,
        "EV-2026010100000001",
        None,
    )
    assert row.detail == (
        "SUCCESS for refund RF2 (WeChat 50300000002, 40 of 100 fen): anomaly:unknown_refund"
    )
    assert await anomaly_kinds(stack) == ["unknown_refund"]


async def test_a_verified_refund_settles_the_refund_once(stack: Stack) -> None:
    paying = await paying_order(stack, amount=100)
    await pay_at_sandbox(stack, paying)
    await stack.sandbox_client.post("/_sandbox/faults", json={"kind": "drop", "path": "/api/"})
    refund = await refund_at_sandbox(stack, paying, 40)  # WeChat's notification is lost …
    assert await refund_state(stack, refund["id"]) == "PROCESSING"
    plaintext = refund_plaintext(
        PUBLIC_KEY_MCHID,
        out_trade_no=paying.out_trade_no,
        out_refund_no=refund["out_refund_no"],
        refund_id=refund["wechat_refund_id"],
        transaction_id=transaction(paying)["transaction_id"],
    )
    headers, body = seal_v3(  # … and this one arrives instead
        stack, PUBLIC_KEY_MCHID, plaintext, event_type="REFUND.SUCCESS", original_type="refund"
    )
    first = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    again = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert [first.verdict, again.verdict] == ["applied", "duplicate"]
    assert first.order_id == paying.order_id
    assert await refund_state(stack, refund["id"]) == "SUCCESS"
    assert (await order_row(stack, paying.order_id)).state == "PARTIALLY_REFUNDED"
    assert (await outbox_types(stack, paying.order_id)).count("refund.succeeded") == 1


async def test_a_refund_for_another_merchant_is_an_anomaly(stack: Stack) -> None:
    headers, body = seal_v3(
        stack,
        PUBLIC_KEY_MCHID,
        refund_plaintext(CERTIFICATE_MCHID),
        event_type="REFUND.SUCCESS",
        original_type="refund",
    )
    receipt = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert receipt.verdict == "anomaly:merchant_mismatch"
    assert await anomaly_kinds(stack) == ["merchant_mismatch"]


async def test_a_refund_plaintext_that_is_not_one_is_malformed(stack: Stack) -> None:
    headers, body = seal_v3(
        stack,
        PUBLIC_KEY_MCHID,
        {"mchid": PUBLIC_KEY_MCHID},
        event_type="REFUND.SUCCESS",
        original_type="refund",
    )
    receipt = await receive_v3(stack.services, PUBLIC_KEY_MCHID, headers, body)
    assert (receipt.verdict, receipt.status) == ("rejected_malformed", 400)
    (row,) = await stored(stack)
    assert row.kind == NotificationKind.REFUND
