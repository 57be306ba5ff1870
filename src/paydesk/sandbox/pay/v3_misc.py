"""Pay v3 platform certificates and trade bills.

    GET /v3/certificates                                    (PROTOCOL.md §1.4)
    GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL|SUCCESS|REFUND&tar_type=GZIP
    GET /v3/billdownload/file?token=…                        (the bill's download_url)

The certificate-mode merchant gets its platform certificate, AES-GCM-encrypted with its APIv3
key; the public-key merchant gets WeChat's 404 telling it to use the public key. A bill is for
a day before today (Beijing, virtual time); its ``download_url`` carries the sandbox's mount
prefix, and the download (authenticated like any v3 call) is not signed — as at WeChat.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import date
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import BaseRoute

from paydesk.protocol.keys import load_certificate
from paydesk.protocol.times import BEIJING
from paydesk.protocol.v3.certificates import encode_certificates_response
from paydesk.protocol.v3.endpoints import CERTIFICATES, TRADEBILL
from paydesk.sandbox.http import public_base
from paydesk.sandbox.pay.bills import BILL_TYPES, BillType, trade_bill
from paydesk.sandbox.pay.refusals import Refusal, param_error
from paydesk.sandbox.pay.v3_http import V3Call, v3_route

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["BILL_DOWNLOAD_PATH", "routes"]

BILL_DOWNLOAD_PATH = "/v3/billdownload/file"
_BILL_TYPES: dict[str, BillType] = {name: name for name in BILL_TYPES}
_NO_CERTIFICATE = "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。"


def _query_refusal(field: str, issue: str) -> Refusal:
    refusal = param_error(field, issue)
    refusal.location = "query"
    return refusal


def routes(world: PayWorld) -> list[BaseRoute]:
    """The certificate and bill routes bound to ``world``."""

    async def certificates(call: V3Call) -> Response:
        creds = call.merchant.credentials
        if creds.platform_certificate_pem is None:
            raise Refusal("RESOURCE_NOT_EXISTS", _NO_CERTIFICATE, status=404)
        cert = load_certificate(creds.platform_certificate_pem)
        body = encode_certificates_response(
            [(creds.platform_certificate_pem, cert.not_valid_before_utc, cert.not_valid_after_utc)],
            call.merchant.cipher,
            nonces=[world.ids.resource_nonce()],
        )
        return call.signed(body, 200, "application/json")

    async def tradebill(call: V3Call) -> Response:
        params = call.request.query_params
        try:
            day = date.fromisoformat(params.get("bill_date", ""))
        except ValueError as exc:
            raise _query_refusal("bill_date", "bill_date 须为 YYYY-MM-DD") from exc
        kind = _BILL_TYPES.get(params.get("bill_type", "ALL"))
        if kind is None:
            raise _query_refusal("bill_type", "bill_type 须为 ALL、SUCCESS 或 REFUND")
        tar_type = params.get("tar_type")
        if tar_type not in (None, "GZIP"):
            raise _query_refusal("tar_type", "tar_type 只能为 GZIP")
        if day >= world.now().astimezone(BEIJING).date():
            raise Refusal(
                "NO_STATEMENT_EXIST", "账单日期须早于今天 (a day's bill is ready the next day)"
            )
        text = trade_bill(
            world.book.orders(),
            world.book.refunds(),
            mchid=call.merchant.mchid,
            day=day,
            bill_type=kind,
        )
        content = text.encode("utf-8")
        if tar_type == "GZIP":
            content = gzip.compress(content, mtime=0)
        token = world.ids.token()
        world.bills[token] = (call.merchant.mchid, content)
        return call.ok(
            {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(content).hexdigest(),  # noqa: S324 - WeChat's choice
                "download_url": f"{public_base(call.request)}{BILL_DOWNLOAD_PATH}?token={token}",
            }
        )

    async def download(call: V3Call) -> Response:
        stored = world.bills.get(call.request.query_params.get("token", ""))
        if stored is None or stored[0] != call.merchant.mchid:
            raise Refusal("RESOURCE_NOT_EXISTS", "账单下载链接无效", status=404)
        headers = {"Request-ID": world.ids.request_id()}
        return Response(stored[1], 200, headers=headers, media_type="application/octet-stream")

    return [
        v3_route(world, CERTIFICATES.template, "GET", certificates, strict_headers=True),
        v3_route(world, TRADEBILL.template, "GET", tradebill),
        v3_route(world, BILL_DOWNLOAD_PATH, "GET", download),
    ]
