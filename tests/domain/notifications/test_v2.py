"""receive_v2: the hardened parse, the pinned sign type, req_info refunds, then settle."""

from __future__ import annotations

import pytest

from paydesk.db.enums import ApiVersion, NotificationKind
from paydesk.domain.notifications.v2 import receive_v2
from paydesk.protocol.v3.notify import MAX_NOTIFICATION_BYTES
from paydesk.settings.config import SignTypeV2
from tests.domain.notifications.world import (
    anomaly_kinds,
    merchant,
    order_row,
    paid_events,
    paying_order,
    stored,
    v2_payment,
    v2_refund,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_a_verified_payment_pays_once_with_the_pinned_sign_type(
    make_stack: StackFactory, sign_type: SignTypeV2
) -> None:
    stack = await make_stack(api_versions={PUBLIC_KEY_MCHID: "v2"}, v2_sign_type=sign_type)
    paying = await paying_order(stack, amount=250)
    body = v2_payment(stack, paying, sign_type=sign_type)
    first = await receive_v2(stack.services, paying.mchid, {}, body)
    again = await receive_v2(stack.services, paying.mchid, {}, body)
    assert [first.verdict, again.verdict] == ["applied", "duplicate"]
    assert first.status == again.status == 204
    order = await order_row(stack, paying.order_id)
    assert (order.state, order.paid_amount) == ("PAID", 250)
    assert await paid_events(stack, paying.order_id) == 1
    rows = await stored(stack)
    assert rows[0].api_version == ApiVersion.V2
    assert rows[0].event_id == order.transaction_id
    assert rows[0].body == body.decode()


async def test_the_other_sign_type_is_refused_even_when_the_body_names_it(stack: Stack) -> None:
    paying = await paying_order(stack)  # the stack pins HMAC-SHA256
    plain = v2_payment(stack, paying, sign_type="MD5")
    named = v2_payment(stack, paying, sign_type="MD5", named_sign_type="MD5")
    for body in (plain, named):
        receipt = await receive_v2(stack.services, paying.mchid, {}, body)
        assert (receipt.verdict, receipt.status) == ("rejected_signature", 401)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"
    assert [r.kind for r in await stored(stack)] == [NotificationKind.PAYMENT] * 2


async def test_a_changed_amount_breaks_the_signature(stack: Stack) -> None:
    paying = await paying_order(stack, amount=100)
    body = v2_payment(stack, paying, sign_type="HMAC-SHA256")
    forged = body.replace(b"<total_fee>100</total_fee>", b"<total_fee>1</total_fee>")
    assert forged != body
    receipt = await receive_v2(stack.services, paying.mchid, {}, forged)
    assert (receipt.verdict, receipt.status) == ("rejected_signature", 401)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


async def test_a_wrong_amount_correctly_signed_is_an_anomaly(stack: Stack) -> None:
    paying = await paying_order(stack, amount=100)
    body = v2_payment(stack, paying, sign_type="HMAC-SHA256", total_fee=99, cash_fee=99)
    receipt = await receive_v2(stack.services, paying.mchid, {}, body)
    assert (receipt.verdict, receipt.status) == ("anomaly:amount_mismatch", 204)
    assert await anomaly_kinds(stack) == ["amount_mismatch"]
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


async def test_a_failed_payment_changes_nothing(stack: Stack) -> None:
    paying = await paying_order(stack)
    body = v2_payment(stack, paying, sign_type="HMAC-SHA256", result_code="FAIL")
    receipt = await receive_v2(stack.services, paying.mchid, {}, body)
    assert (receipt.verdict, receipt.status) == ("not_paid", 204)
    assert (await order_row(stack, paying.order_id)).state == "PAYING"


@pytest.mark.parametrize(
    ("body", "verdict", "status"),
    [
        (b"<xml><a>1</a>", "rejected_malformed", 400),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<xml><a>&e;</a></xml>",
            "rejected_malformed",
            400,
        ),
        (b"<xml><a>" + b"x" * MAX_NOTIFICATION_BYTES + b"</a></xml>", "rejected_too_large", 413),
    ],
)
async def test_unreadable_xml_is_refused_unread(
    stack: Stack, body: bytes, verdict: str, status: int
) -> None:
    receipt = await receive_v2(stack.services, PUBLIC_KEY_MCHID, {}, body)
    assert (receipt.verdict, receipt.status) == (verdict, status)
    (row,) = await stored(stack)
    assert row.kind == NotificationKind.UNKNOWN
    assert len(row.body) <= len(body)


async def test_a_verified_payment_missing_a_field_is_malformed(stack: Stack) -> None:
    paying = await paying_order(stack)
    body = v2_payment(stack, paying, sign_type="HMAC-SHA256", openid="")
    receipt = await receive_v2(stack.services, paying.mchid, {}, body)
    assert (receipt.verdict, receipt.status) == ("rejected_malformed", 400)
    assert "openid" in receipt.message


async def test_a_decrypted_refund_we_do_not_know_is_an_anomaly(stack: Stack) -> None:
    body = v2_refund(stack, CERTIFICATE_MCHID, refund_status="REFUNDCLOSE")
    receipt = await receive_v2(stack.services, CERTIFICATE_MCHID, {}, body)
    assert (receipt.verdict, receipt.status) == ("anomaly:unknown_refund", 204)
    (row,) = await stored(stack)
    assert (row.kind, row.event_id) == (NotificationKind.REFUND, "50300000001")
    assert row.detail is not None
    assert row.detail.startswith("CLOSED for refund RF1 (WeChat 50300000001, 40 of 100 fen)")
    assert await anomaly_kinds(stack) == ["unknown_refund"]


async def test_a_refund_for_another_merchant_is_an_anomaly(stack: Stack) -> None:
    # Decrypted under PUBLIC_KEY_MCHID's key, but its (unsigned) envelope names the other.
    body = v2_refund(stack, CERTIFICATE_MCHID, key=merchant(stack, PUBLIC_KEY_MCHID).v2_key)
    receipt = await receive_v2(stack.services, PUBLIC_KEY_MCHID, {}, body)
    assert receipt.verdict == "anomaly:merchant_mismatch"


async def test_an_undocumented_refund_status_is_malformed(stack: Stack) -> None:
    body = v2_refund(stack, PUBLIC_KEY_MCHID, refund_status="MAYBE")
    receipt = await receive_v2(stack.services, PUBLIC_KEY_MCHID, {}, body)
    assert (receipt.verdict, receipt.status) == ("rejected_malformed", 400)


async def test_a_refund_under_another_key_is_refused(stack: Stack) -> None:
    body = v2_refund(stack, PUBLIC_KEY_MCHID, key="x" * 32)
    receipt = await receive_v2(stack.services, PUBLIC_KEY_MCHID, {}, body)
    assert (receipt.verdict, receipt.status) == ("rejected_decrypt", 401)
    (row,) = await stored(stack)
    assert row.kind == NotificationKind.REFUND


async def test_a_refund_missing_a_field_is_malformed(stack: Stack) -> None:
    body = v2_refund(stack, PUBLIC_KEY_MCHID, out_refund_no="")
    receipt = await receive_v2(stack.services, PUBLIC_KEY_MCHID, {}, body)
    assert (receipt.verdict, receipt.status) == ("rejected_malformed", 400)


async def test_unknown_merchants_are_refused_and_not_stored(stack: Stack) -> None:
    receipt = await receive_v2(stack.services, "1999999999", {}, b"<xml></xml>")
    assert (receipt.status, receipt.notification_id) == (404, None)
    assert await stored(stack) == []
