"""WeChat Pay API v3 for one merchant: one small method per endpoint (PROTOCOL.md §1.7).

Each method is the same short list of steps — build the body once, then sign → send →
verify (:class:`~paydesk.client._v3.V3Channel`), then parse — and links its WeChat doc.

Retries (at most ``retries``, small backoff) resend the *same body bytes*, and only when it is
safe: nothing reached WeChat (:class:`~paydesk.client.errors.TransportFailed`) or WeChat
failed (5xx). A prepay is never re-issued under a new ``out_trade_no`` — WeChat treats an
identical re-post of the same number as re-entry and answers with the same prepay; a refund
retry keeps its ``out_refund_no``. A timeout after sending raises
:class:`~paydesk.client.errors.OutcomeUnknown`: query, don't create again.

>>> PayV3Client.prepay.__doc__.splitlines()[0]
'Create a prepay order: ``jsapi`` (JSAPI and mini program), ``app``, ``h5`` or ``native``.'
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from datetime import date

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import ValidationError

from paydesk.client._mapping import request_id_of
from paydesk.client._transport import Sleep
from paydesk.client._v3 import V3Channel, parse_body
from paydesk.client.config import (
    Clock,
    Endpoints,
    MerchantAccount,
    NonceSource,
    random_nonce,
    unix_time,
)
from paydesk.client.errors import ResponseNotVerified, UnexpectedResponse
from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3 import endpoints as paths
from paydesk.protocol.v3.certificates import PlatformCertificate
from paydesk.protocol.v3.endpoints import Channel
from paydesk.protocol.v3.models import (
    AbnormalRefundRequest,
    AbnormalRefundTo,
    PrepayRequest,
    PrepayResponse,
    Refund,
    RefundRequest,
    ResponseModel,
    Transaction,
)
from paydesk.protocol.v3.oaep import SEED_BYTES, oaep_encrypt

__all__ = ["BillLocation", "PayV3Client"]


class BillLocation(ResponseModel):
    """The answer of ``/v3/bill/tradebill``: where the file is and its hash."""

    hash_type: str
    hash_value: str
    download_url: str


def _check_prepay(channel: Channel, request: PrepayRequest, mchid: str) -> None:
    if request.mchid != mchid:
        raise MalformedInput(f"prepay for mchid {request.mchid} sent as {mchid}", field="mchid")
    if channel == "jsapi" and request.payer is None:
        raise MalformedInput("a jsapi prepay needs payer.openid", field="payer")
    if channel == "h5" and (request.scene_info is None or request.scene_info.h5_info is None):
        raise MalformedInput("an h5 prepay needs scene_info.h5_info", field="scene_info")


def _abnormal_refund_request(fields: dict[str, str | None]) -> AbnormalRefundRequest:
    """The request, its rules broken as :class:`MalformedInput` that never quotes a value: a
    pydantic error would carry the card number and the name in its text, so it is neither
    quoted nor chained (raised outside the ``except``, it is not even the context)."""
    try:
        return AbnormalRefundRequest.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "type"
    raise MalformedInput(f"abnormal refund: {where}: {first['msg']}", field=where)


def _seal(key: RSAPublicKey, plaintext: str, field: str) -> str:
    """One sensitive field as WeChat wants it: RSA-OAEP ciphertext, base64, fresh seed."""
    try:
        return oaep_encrypt(key, plaintext, seed=os.urandom(SEED_BYTES))
    except MalformedInput as exc:
        reason = exc.reason
    raise MalformedInput(f"abnormal refund: {field}: {reason}", field=field)


_PREPAY_ANSWER = {"jsapi": "prepay_id", "app": "prepay_id", "h5": "h5_url", "native": "code_url"}


class PayV3Client:
    """Pay v3 calls for one merchant.

    ``await PayV3Client(account, endpoints=Endpoints.sandbox(url), http=http).close("T0001")``
    """

    def __init__(
        self,
        account: MerchantAccount,
        *,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        clock: Clock = unix_time,
        nonce: NonceSource = random_nonce,
        retries: int = 2,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.account = account
        self._wire = V3Channel(
            account,
            endpoints=endpoints,
            http=http,
            clock=clock,
            nonce=nonce,
            retries=retries,
            timeout=timeout,
            sleep=sleep,
        )

    async def prepay(self, channel: Channel, request: PrepayRequest) -> PrepayResponse:
        """Create a prepay order: ``jsapi`` (JSAPI and mini program), ``app``, ``h5`` or ``native``.

        Docs: JSAPI https://pay.weixin.qq.com/doc/v3/merchant/4012791897 (the APP, H5 and
        Native pages have the same shape). Returns ``prepay_id``, ``h5_url`` or ``code_url``.
        """
        _check_prepay(channel, request, self.account.mchid)
        body = request.to_json()
        response = await self._wire.call("POST", paths.prepay_path(channel), body)
        answer = parse_body(PrepayResponse, response)
        if getattr(answer, _PREPAY_ANSWER[channel]) is None:
            raise UnexpectedResponse(
                f"{channel} prepay answer has no {_PREPAY_ANSWER[channel]}",
                status=response.status_code,
                request_id=request_id_of(response.headers),
                body=response.content,
            )
        return answer

    async def query_by_out_trade_no(self, out_trade_no: str) -> Transaction:
        """The order as WeChat sees it, paid or not.

        Doc: https://pay.weixin.qq.com/doc/v3/merchant/4012791899
        """
        path = paths.query_by_out_trade_no_path(out_trade_no, mchid=self.account.mchid)
        response = await self._wire.call("GET", path)
        return self._own(parse_body(Transaction, response), response, out_trade_no=out_trade_no)

    async def query_by_transaction_id(self, transaction_id: str) -> Transaction:
        """A paid order by WeChat's ``transaction_id``.

        Doc: https://pay.weixin.qq.com/doc/v3/merchant/4012791900
        """
        path = paths.query_by_transaction_id_path(transaction_id, mchid=self.account.mchid)
        response = await self._wire.call("GET", path)
        return self._own(parse_body(Transaction, response), response)

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (204; re-entrant); a paid one is ``Refused``.

        Doc: https://pay.weixin.qq.com/doc/v3/merchant/4012791901
        """
        body = json.dumps({"mchid": self.account.mchid}, separators=(",", ":")).encode()
        await self._wire.call("POST", paths.close_path(out_trade_no), body)

    async def refund(self, request: RefundRequest) -> Refund:
        """Ask for a refund; success means *accepted*, the outcome comes later.

        Doc: https://pay.weixin.qq.com/doc/v3/merchant/4012791903. Retries keep the same
        ``out_refund_no`` and bytes, so WeChat makes one refund.
        """
        response = await self._wire.call("POST", paths.REFUND_CREATE.path(), request.to_json())
        return parse_body(Refund, response)

    async def query_refund(self, out_refund_no: str) -> Refund:
        """One refund by our ``out_refund_no``.

        Doc: https://pay.weixin.qq.com/doc/v3/merchant/4012791904
        """
        response = await self._wire.call("GET", paths.refund_query_path(out_refund_no))
        return parse_body(Refund, response)

    async def apply_abnormal_refund(
        self,
        refund_id: str,
        *,
        out_refund_no: str,
        to: AbnormalRefundTo,
        bank_type: str | None = None,
        bank_account: str | None = None,
        real_name: str | None = None,
    ) -> Refund:
        """Send an ABNORMAL refund (the payer's card was cancelled or frozen) somewhere else:
        to a bank card of the payer (``USER_BANK_CARD``: ``bank_type``, ``bank_account``,
        ``real_name``) or to the merchant's bank account (``MERCHANT_BANK_CARD``: no bank
        fields). Returns the Refund, now PROCESSING.

        Doc: https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html

        ``refund_id`` is WeChat's refund id. ``bank_account`` and ``real_name`` are given in
        plaintext and encrypted here, once per call (a retry resends the same bytes), with
        WeChat Pay's key for this merchant (:meth:`~paydesk.client._v3.V3Channel.platform_key`),
        named in ``Wechatpay-Serial``. An empty ``refund_id`` or a combination WeChat would
        refuse raises :class:`MalformedInput` before anything is sent; no error quotes the
        plaintext::

            refund = await pay.apply_abnormal_refund(
                "50000000382019052709732678859", out_refund_no="R0001",
                to="USER_BANK_CARD", bank_type="ICBC_DEBIT",
                bank_account="6222020000000000000", real_name="张三",
            )
        """
        path = paths.abnormal_refund_path(refund_id)
        fields: dict[str, str | None] = {
            "out_refund_no": out_refund_no,
            "type": to,
            "bank_type": bank_type,
            "bank_account": bank_account,
            "real_name": real_name,
        }
        _abnormal_refund_request(fields)  # the rules, checked before any request
        serial, key = await self._wire.platform_key()
        for name in ("bank_account", "real_name"):
            value = fields[name]
            fields[name] = None if value is None else _seal(key, value, name)
        body = _abnormal_refund_request(fields).to_json()
        response = await self._wire.call("POST", path, body, headers={"Wechatpay-Serial": serial})
        return parse_body(Refund, response)

    async def certificates(self) -> list[PlatformCertificate]:
        """Download, decrypt and verify the platform certificates (certificate mode only;
        a public-key merchant gets ``NotFound`` ``RESOURCE_NOT_EXISTS``). The client then
        also verifies answers signed with them. PROTOCOL.md §1.4."""
        return await self._wire.download_certificates()

    async def trade_bill(self, bill_date: date, bill_type: str = "ALL") -> bytes:
        """The day's trade bill (CSV text, as bytes), its hash checked.

        Doc: https://pay.weixin.qq.com/docs/merchant/apis/jsapi-payment/get-trade-bill.html

        Two calls: the signed ``/v3/bill/tradebill`` answer gives a ``download_url`` and a
        SHA1; the file itself is not signed by WeChat, so its hash is what proves it.
        """
        response = await self._wire.call("GET", paths.tradebill_path(bill_date, bill_type))
        location = parse_body(BillLocation, response)
        if location.hash_type.upper() != "SHA1":
            raise UnexpectedResponse(f"bill hash type {location.hash_type} is not SHA1")
        download = await self._wire.call(
            "GET", self._wire.wechat_path(location.download_url), verify=False
        )
        digest = hashlib.sha1(download.content).hexdigest()  # noqa: S324 - WeChat's bill hash
        expected = location.hash_value.lower().encode("utf-8")
        if not hmac.compare_digest(digest.encode("ascii"), expected):
            raise ResponseNotVerified(
                "bill file does not match its SHA1",
                status=download.status_code,
                request_id=request_id_of(download.headers),
            )
        return download.content

    def _own(
        self, transaction: Transaction, response: httpx.Response, *, out_trade_no: str | None = None
    ) -> Transaction:
        """A verified answer about another merchant's or another order is not ours to use."""
        if transaction.mchid != self.account.mchid or (
            out_trade_no is not None and transaction.out_trade_no != out_trade_no
        ):
            raise UnexpectedResponse(
                f"answer is about {transaction.mchid}/{transaction.out_trade_no}",
                status=response.status_code,
                request_id=request_id_of(response.headers),
                body=response.content,
            )
        return transaction
