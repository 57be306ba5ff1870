"""Build the notifications WeChat sends: v3 sealed JSON, v2 signed XML, v2 encrypted refunds.

v3 (PROTOCOL.md §1.8): the envelope is sealed once (event id, ``create_time`` = virtual now in
``+08:00``, resource AES-GCM-encrypted with the merchant's APIv3 key, ``associated_data``
``transaction`` or ``refund``); every attempt then signs those same bytes afresh with the
platform key (wall-clock timestamp, new nonce). v2 (§2.3): the payment notify is flat XML
signed with the order's sign type; the refund notify carries ``req_info`` (AES-256-ECB under
md5 of the APIv2 key) and no ``sign``.
"""

from __future__ import annotations

import json
from typing import Any

from paydesk.protocol.times import BEIJING, to_rfc3339_beijing, to_unix, to_v2_time
from paydesk.protocol.v2.codec import signed_xml
from paydesk.protocol.v2.notify import encrypt_req_info
from paydesk.protocol.v3.notify import seal_notification
from paydesk.protocol.v3.verify import SIGN_TEST_PREFIX, sign_response
from paydesk.protocol.xmlcodec import to_xml
from paydesk.sandbox.clock import SandboxClock
from paydesk.sandbox.pay.ids import Ids
from paydesk.sandbox.pay.merchants import MerchantKeys
from paydesk.sandbox.pay.model import (
    Order,
    RefundRecord,
    received_account,
    refund_notice_json,
    transaction_json,
)
from paydesk.sandbox.pay.records import Delivery, Signer

__all__ = ["REFUND_EVENTS", "Notices"]

#: Refund status → (event type, summary).
REFUND_EVENTS = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
}
_V2_REFUND_STATUS = {"SUCCESS": "SUCCESS", "CLOSED": "REFUNDCLOSE", "ABNORMAL": "CHANGE"}


def _compact(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Notices:
    """Makes :class:`~paydesk.sandbox.pay.records.Delivery` values for payments and refunds."""

    def __init__(self, *, ids: Ids, clock: SandboxClock) -> None:
        self.ids = ids
        self.clock = clock

    def signer(self, merchant: MerchantKeys) -> Signer:
        """Signs a body for one attempt: fresh wall timestamp and nonce every time."""

        def sign(body: bytes, probe: bool) -> dict[str, str]:
            headers = sign_response(
                merchant.platform_key,
                serial=merchant.platform_serial,
                timestamp=to_unix(self.clock.wall()),
                nonce=self.ids.nonce(),
                body=body,
            )
            if probe:
                headers["Wechatpay-Signature"] = SIGN_TEST_PREFIX + headers["Wechatpay-Signature"]
            headers["Request-ID"] = self.ids.request_id()
            return headers

        return sign

    def _v3(
        self,
        merchant: MerchantKeys,
        *,
        event_type: str,
        summary: str,
        original_type: str,
        plaintext: dict[str, Any],
        url: str,
        out_trade_no: str,
        out_refund_no: str | None = None,
    ) -> Delivery:
        now = self.clock.now()
        event_id = self.ids.event_id()
        _, body = seal_notification(
            event_id=event_id,
            create_time=to_rfc3339_beijing(now),
            event_type=event_type,
            summary=summary,
            original_type=original_type,
            associated_data=original_type,
            resource_plaintext=_compact(plaintext),
            cipher=merchant.cipher,
            resource_nonce=self.ids.resource_nonce(),
            platform_key=merchant.platform_key,
            serial=merchant.platform_serial,
            timestamp=to_unix(self.clock.wall()),
            sign_nonce=self.ids.nonce(),
        )
        return Delivery(
            event_id=event_id,
            event_type=event_type,
            api="v3",
            mchid=merchant.mchid,
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            url=url,
            body=body,
            content_type="application/json",
            signer=self.signer(merchant),
            created_at=now,
        )

    def _v2(
        self,
        merchant: MerchantKeys,
        *,
        event_type: str,
        body: str,
        url: str,
        out_trade_no: str,
        out_refund_no: str | None = None,
    ) -> Delivery:
        return Delivery(
            event_id=self.ids.event_id(),
            event_type=event_type,
            api="v2",
            mchid=merchant.mchid,
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            url=url,
            body=body.encode("utf-8"),
            content_type="text/xml",
            signer=None,
            created_at=self.clock.now(),
        )

    def payment(self, merchant: MerchantKeys, order: Order) -> Delivery:
        """``TRANSACTION.SUCCESS`` (v3) or the signed v2 payment notify for a paid order."""
        draft = order.draft
        if draft.api == "v3":
            return self._v3(
                merchant,
                event_type="TRANSACTION.SUCCESS",
                summary="支付成功",
                original_type="transaction",
                plaintext=transaction_json(order),
                url=draft.notify_url,
                out_trade_no=draft.out_trade_no,
            )
        fields: dict[str, str | int] = {
            "return_code": "SUCCESS",
            "appid": draft.appid,
            "mch_id": draft.mchid,
            "nonce_str": self.ids.nonce(),
            "result_code": "SUCCESS",
            "openid": order.paid_openid or "",
            "is_subscribe": "N",
            "trade_type": draft.trade_type,
            "bank_type": "OTHERS",
            "total_fee": draft.total,
            "fee_type": "CNY",
            "cash_fee": draft.total,
            "transaction_id": order.transaction_id or "",
            "out_trade_no": draft.out_trade_no,
            "time_end": to_v2_time(order.success_time or self.clock.now()),
        }
        if draft.attach is not None:
            fields["attach"] = draft.attach
        body = signed_xml(fields, key=merchant.v2_key, sign_type=draft.sign_type or "MD5")
        return self._v2(
            merchant,
            event_type="TRANSACTION.SUCCESS",
            body=body,
            url=draft.notify_url,
            out_trade_no=draft.out_trade_no,
        )

    def refund(self, merchant: MerchantKeys, order: Order, refund: RefundRecord) -> Delivery:
        """``REFUND.SUCCESS`` / ``ABNORMAL`` / ``CLOSED`` for a settled refund."""
        event_type, summary = REFUND_EVENTS[refund.status]
        url = refund.notify_url or order.draft.notify_url
        if refund.api == "v3":
            return self._v3(
                merchant,
                event_type=event_type,
                summary=summary,
                original_type="refund",
                plaintext=refund_notice_json(refund),
                url=url,
                out_trade_no=refund.out_trade_no,
                out_refund_no=refund.out_refund_no,
            )
        secret: dict[str, str | int] = {
            "out_refund_no": refund.out_refund_no,
            "out_trade_no": refund.out_trade_no,
            "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
            "refund_fee": refund.refund,
            "refund_id": refund.refund_id,
            "refund_recv_accout": received_account(refund),
            "refund_request_source": "API",
            "refund_status": _V2_REFUND_STATUS[refund.status],
            "settlement_refund_fee": refund.refund,
            "settlement_total_fee": refund.total,
            "total_fee": refund.total,
            "transaction_id": refund.transaction_id,
        }
        if refund.success_time is not None:
            when = refund.success_time.astimezone(BEIJING)
            secret["success_time"] = when.strftime("%Y-%m-%d %H:%M:%S")
        envelope = {
            "return_code": "SUCCESS",
            "appid": order.draft.appid,
            "mch_id": merchant.mchid,
            "nonce_str": self.ids.nonce(),
            "req_info": encrypt_req_info(secret, key=merchant.v2_key),
        }
        return self._v2(
            merchant,
            event_type=event_type,
            body=to_xml(envelope),
            url=url,
            out_trade_no=refund.out_trade_no,
            out_refund_no=refund.out_refund_no,
        )
