"""Pay v3 abnormal refund (发起异常退款): an ABNORMAL refund sent to another account.

    POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund  → Refund (PROCESSING)

``refund_id`` is WeChat's id of one of the signer's refunds, whose status must be ``ABNORMAL``
(the payer's card was cancelled or frozen; force it with ``POST /_sandbox/refund-outcome``).
``USER_BANK_CARD`` pays a card of the payer: ``bank_account`` and ``real_name`` are RSA-OAEP
ciphertext under the platform key ``Wechatpay-Serial`` names, and must decrypt to 12–30 digits
and a name. ``MERCHANT_BANK_CARD`` pays the merchant's own account. The refund is then
``PROCESSING`` and settles like a new one (``refund_delay_seconds`` later, then notified);
``refund_json`` shows channel ``OTHER_BANKCARD`` and where the money went. Only the card's last
four digits are kept.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import BaseRoute

from paydesk.protocol.errors import DecryptError
from paydesk.protocol.v3.endpoints import REFUND_ABNORMAL
from paydesk.protocol.v3.models.refunds import AbnormalRefundRequest
from paydesk.protocol.v3.oaep import oaep_decrypt
from paydesk.sandbox.pay.merchants import same_serial
from paydesk.sandbox.pay.model import AbnormalRedirect, refund_json
from paydesk.sandbox.pay.refusals import (
    decrypt_failed,
    param_error,
    platform_serial_error,
    refund_not_abnormal,
    refund_not_exist,
)
from paydesk.sandbox.pay.v3_http import V3Call, parse_body, v3_route

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["routes"]

# ASCII digits only: ``\d`` would also take full-width and other Unicode digits.
_CARD_NUMBER = re.compile(r"[0-9]{12,30}")


def routes(world: PayWorld) -> list[BaseRoute]:
    """The abnormal-refund route bound to ``world``."""

    async def apply(call: V3Call) -> Response:
        world.settle_due_refunds()
        request = parse_body(AbnormalRefundRequest, call.body)
        refund = world.book.refund_by_id(call.merchant.mchid, call.request.path_params["refund_id"])
        if refund is None:
            raise refund_not_exist()
        if request.out_refund_no != refund.out_refund_no:
            raise param_error("/out_refund_no", "out_refund_no 与 refund_id 不是同一笔退款")
        # Checked before decrypting too, so a repeated apply is told why whatever it sends.
        if refund.status != "ABNORMAL":
            raise refund_not_abnormal(refund.status)
        redirect = _redirect(call, request)
        world.book.redirect_abnormal(refund, redirect, world.now(), world.refund_delay_seconds)
        return call.ok(refund_json(refund))

    return [v3_route(world, REFUND_ABNORMAL.template, "POST", apply, strict_headers=True)]


def _redirect(call: V3Call, request: AbnormalRefundRequest) -> AbnormalRedirect:
    """Where the money goes, from a valid request; the card's plaintext goes no further."""
    if request.type == "MERCHANT_BANK_CARD":
        return AbnormalRedirect(type="MERCHANT_BANK_CARD")
    _check_serial(call)
    account = _decrypt(call, "/bank_account", request.bank_account)
    name = _decrypt(call, "/real_name", request.real_name)
    if not _CARD_NUMBER.fullmatch(account):
        raise param_error("/bank_account", "bank_account 解密后须为 12 至 30 位数字的银行卡号")
    if not name.strip():
        raise param_error("/real_name", "real_name 解密后不能为空")
    return AbnormalRedirect(
        type="USER_BANK_CARD", bank_type=request.bank_type, card_tail=account[-4:]
    )


def _check_serial(call: V3Call) -> None:
    """``Wechatpay-Serial`` must name the key the sandbox signs this merchant's answers with."""
    serial = call.request.headers.get("wechatpay-serial")
    if not serial:
        raise platform_serial_error("加密了敏感信息的请求须带 Http 头 Wechatpay-Serial")
    creds = call.merchant.credentials
    if creds.mode == "public_key":
        known = serial == creds.platform_public_key_id
    else:
        cert_serial = creds.platform_certificate_serial
        known = cert_serial is not None and same_serial(serial, cert_serial)
    if not known:
        raise platform_serial_error("Wechatpay-Serial 不是本商户的微信支付公钥ID或平台证书序列号")


def _decrypt(call: V3Call, field: str, ciphertext: str | None) -> str:
    try:
        return oaep_decrypt(call.merchant.platform_key, ciphertext or "")
    except DecryptError as exc:
        raise decrypt_failed(field) from exc
