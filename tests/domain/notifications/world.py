"""Helpers for notification tests: a PAYING order, notifications as WeChat would sign them,
and what the database holds afterwards.

The sandbox never lies, so a notification it would not send (a wrong amount, a foreign
merchant, a stale timestamp) is built here with protocol ``seal_notification`` and the
sandbox credentials' own platform keys — exactly the bytes WeChat would send if it did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from paydesk.db.enums import PaymentChannel
from paydesk.db.models import Anomaly, Notification, Order, OrderEvent, OutboxEvent
from paydesk.domain.payments.prepay import Payer, start_payment
from paydesk.protocol import keys, times
from paydesk.protocol.v2.codec import signed_xml
from paydesk.protocol.v2.notify import encrypt_req_info
from paydesk.protocol.v2.sign import SignType
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.notify import seal_notification
from paydesk.protocol.v3.verify import sign_response
from paydesk.protocol.xmlcodec import to_xml
from paydesk.sandbox.credentials import MerchantCredentials
from tests.stack import MINI_APPID, Stack

OPENID = "oEez8AAAAAAAAAAAAAAAAAAAAAAA"


@dataclass(frozen=True)
class Paying:
    """An order in PAYING with its prepay attempt at the sandbox."""

    order_id: str
    mchid: str
    appid: str
    out_trade_no: str
    amount: int
    prepay_id: str


async def paying_order(stack: Stack, *, mchid: str | None = None, amount: int = 100) -> Paying:
    """Create an order as the merchant and start a mini program payment for it."""
    fields: dict[str, Any] = {"amount": amount}
    if mchid is not None:
        fields["mchid"] = mchid
    order = await stack.create_order(**fields)
    start = await start_payment(
        stack.services,
        order["id"],
        PaymentChannel.MINIPROGRAM,
        Payer(appid=MINI_APPID, openid=OPENID),
    )
    assert start.payment.prepay_id is not None
    return Paying(
        order_id=order["id"],
        mchid=order["mchid"],
        appid=start.payment.appid,
        out_trade_no=start.payment.out_trade_no,
        amount=amount,
        prepay_id=start.payment.prepay_id,
    )


async def pay_at_sandbox(stack: Stack, paying: Paying) -> dict[str, Any]:
    """The payer pays at the sandbox, which then notifies paydesk; waits for delivery."""
    response = await stack.sandbox_client.post(
        "/_sandbox/pay", json={"prepay_id": paying.prepay_id, "openid": OPENID}
    )
    assert response.status_code == 200, response.text
    await stack.sandbox.pay.drain()
    answer: dict[str, Any] = response.json()
    return answer


async def refund_at_sandbox(stack: Stack, paying: Paying, amount: int) -> dict[str, Any]:
    """Refund part of a PAID order through the API, then let the sandbox settle it and notify.

    Returns the refund JSON as it was when WeChat accepted it (PROCESSING).
    """
    asked = await stack.api.post(
        f"/api/v1/orders/{paying.order_id}/refunds",
        json={"amount": amount},
        headers=stack.merchant_headers,
    )
    assert asked.status_code == 201, asked.text
    stack.sandbox.clock.advance(60)  # past the sandbox's refund delay
    await stack.sandbox.pay.drain()
    refund: dict[str, Any] = asked.json()
    return refund


async def refund_state(stack: Stack, refund_id: str) -> str:
    """The refund's state as the API shows it."""
    answer = await stack.api.get(f"/api/v1/refunds/{refund_id}", headers=stack.merchant_headers)
    assert answer.status_code == 200, answer.text
    state: str = answer.json()["state"]
    return state


def merchant(stack: Stack, mchid: str) -> MerchantCredentials:
    """The sandbox's credentials of ``mchid`` (platform private key included)."""
    found = stack.sandbox.credentials.merchant(mchid)
    assert found is not None
    return found


def transaction(paying: Paying, **changes: Any) -> dict[str, Any]:
    """The ``TRANSACTION.SUCCESS`` plaintext WeChat sends for ``paying`` (``changes`` win)."""
    amount = changes.pop("total", paying.amount)
    body: dict[str, Any] = {
        "appid": paying.appid,
        "mchid": paying.mchid,
        "out_trade_no": paying.out_trade_no,
        "transaction_id": "4200000000" + paying.out_trade_no[-18:].upper().replace("_", "0"),
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-01-01T10:00:00+08:00",
        "payer": {"openid": OPENID},
        "amount": {
            "total": amount,
            "payer_total": amount,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    body.update(changes)
    return body


def seal_v3(
    stack: Stack,
    mchid: str,
    plaintext: dict[str, Any] | bytes,
    *,
    event_type: str = "TRANSACTION.SUCCESS",
    original_type: str = "transaction",
    timestamp: int | None = None,
    signed_by: str | None = None,
    serial: str | None = None,
    apiv3_key: str | None = None,
    event_id: str = "EV-2026010100000001",
    probe: bool = False,
) -> tuple[dict[str, str], bytes]:
    """A v3 notification for merchant ``mchid``, signed with ``signed_by``'s platform key.

    By default everything is ``mchid``'s own and the timestamp is the stack's now.
    """
    owner = merchant(stack, mchid)
    signer = merchant(stack, signed_by or mchid)
    now = timestamp if timestamp is not None else times.to_unix(stack.services.clock.now())
    raw = plaintext if isinstance(plaintext, bytes) else json.dumps(plaintext).encode()
    return seal_notification(
        event_id=event_id,
        create_time="2026-01-01T10:00:01+08:00",
        event_type=event_type,
        summary="支付成功",
        original_type=original_type,
        associated_data=original_type,
        resource_plaintext=raw,
        cipher=Apiv3Cipher(apiv3_key or owner.apiv3_key),
        resource_nonce="R1a2b3c4d5e6",
        platform_key=keys.load_private_key(signer.platform_private_key_pem),
        serial=serial or signer.platform_serial,
        timestamp=now,
        sign_nonce="N0123456789ABCDEF0123456789ABCDE",
        sign_test_probe=probe,
    )


def sign_raw_v3(stack: Stack, mchid: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """Any ``body``, signed now with ``mchid``'s platform key as a notification would be."""
    signer = merchant(stack, mchid)
    headers = sign_response(
        keys.load_private_key(signer.platform_private_key_pem),
        serial=signer.platform_serial,
        timestamp=times.to_unix(stack.services.clock.now()),
        nonce="N-raw",
        body=body,
    )
    return headers, body


def v2_payment(
    stack: Stack,
    paying: Paying,
    *,
    sign_type: SignType,
    key: str | None = None,
    named_sign_type: str | None = None,
    **changes: Any,
) -> bytes:
    """A v2 payment notify for ``paying``, signed with the merchant's APIv2 key.

    ``named_sign_type`` puts a ``sign_type`` field in the body (WeChat's notify has none).
    """
    fields: dict[str, str | int] = {
        "return_code": "SUCCESS",
        "appid": paying.appid,
        "mch_id": paying.mchid,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "result_code": "SUCCESS",
        "openid": OPENID,
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": "OTHERS",
        "total_fee": paying.amount,
        "fee_type": "CNY",
        "cash_fee": paying.amount,
        "transaction_id": "4200000001" + paying.out_trade_no[-18:].upper(),
        "out_trade_no": paying.out_trade_no,
        "time_end": "20260101100000",
        **changes,
    }
    if named_sign_type is not None:
        fields["sign_type"] = named_sign_type
    secret = key or merchant(stack, paying.mchid).v2_key
    return signed_xml(fields, key=secret, sign_type=sign_type).encode()


def v2_refund(stack: Stack, mchid: str, *, key: str | None = None, **changes: Any) -> bytes:
    """A v2 refund notify (``req_info`` under md5 of the APIv2 key) for merchant ``mchid``."""
    secret: dict[str, str | int] = {
        "out_refund_no": "RF1",
        "out_trade_no": "PD0000000001",
        "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
        "refund_fee": 40,
        "refund_id": "50300000001",
        "refund_recv_accout": "支付用户零钱",
        "refund_request_source": "API",
        "refund_status": "SUCCESS",
        "settlement_refund_fee": 40,
        "settlement_total_fee": 100,
        "success_time": "2026-01-01 10:05:00",
        "total_fee": 100,
        "transaction_id": "4200000002",
        **changes,
    }
    envelope = {
        "return_code": "SUCCESS",
        "appid": MINI_APPID,
        "mch_id": mchid,
        "nonce_str": "n1",
        "req_info": encrypt_req_info(secret, key=key or merchant(stack, mchid).v2_key),
    }
    return to_xml(envelope).encode()


def refund_plaintext(mchid: str, **changes: Any) -> dict[str, Any]:
    """A v3 ``REFUND.*`` plaintext."""
    body: dict[str, Any] = {
        "mchid": mchid,
        "transaction_id": "4200000003",
        "out_trade_no": "PD0000000001",
        "refund_id": "50300000002",
        "out_refund_no": "RF2",
        "refund_status": "SUCCESS",
        "success_time": "2026-01-01T10:05:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": 100, "refund": 40, "payer_total": 100, "payer_refund": 40},
    }
    body.update(changes)
    return body


# ---- what the database holds --------------------------------------------------------------


async def order_row(stack: Stack, order_id: str) -> Order:
    """The order as stored now."""
    async with stack.services.db() as session:
        order = await session.get(Order, order_id)
    assert order is not None
    return order


async def stored(stack: Stack) -> list[Notification]:
    """Every stored notification, oldest first."""
    async with stack.services.db() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.id)))


async def verdicts(stack: Stack) -> list[str]:
    """The verdict of every stored notification, oldest first."""
    return [row.verdict for row in await stored(stack)]


async def paid_events(stack: Stack, order_id: str) -> int:
    """How many order_events moved ``order_id`` to PAID."""
    async with stack.services.db() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.to_state == "PAID")
        )
    return int(count or 0)


async def outbox_types(stack: Stack, order_id: str | None = None) -> list[str]:
    """The outbox event types (of ``order_id``, if given), oldest first."""
    query = select(OutboxEvent.type).order_by(OutboxEvent.created_at, OutboxEvent.id)
    if order_id is not None:
        query = query.where(OutboxEvent.order_id == order_id)
    async with stack.services.db() as session:
        return list(await session.scalars(query))


async def anomaly_kinds(stack: Stack) -> list[str]:
    """The kind of every recorded anomaly."""
    async with stack.services.db() as session:
        return list(await session.scalars(select(Anomaly.kind).order_by(Anomaly.created_at)))


def unix(when: datetime) -> int:
    """Unix seconds of an aware datetime."""
    return times.to_unix(when)
