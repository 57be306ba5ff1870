"""WeChat Pay API v2 (legacy XML) for one merchant (PROTOCOL.md §2).

Each call: add ``mch_id``, ``nonce_str`` and the merchant's pinned ``sign_type`` → sign and
render the XML once → send those bytes (a retry resends them unchanged) → verify the
reply's ``sign`` with the same pinned algorithm → map ``return_code=FAIL`` (the call was
refused) and ``result_code=FAIL`` + ``err_code`` (the business said no; ``.code`` is the
``err_code``) into the error tree → parse into the protocol's typed reply.

Every v2 reply is HTTP 200; a ``SYSTEMERROR`` is retried like a 5xx (WeChat: "请用相同参数
重新调用"). ``/secapi/pay/refund`` needs the merchant's TLS client certificate at WeChat:
pass an ``httpx.AsyncClient`` configured with it as ``secapi_http``.

>>> PayV2Client.unified_order.__doc__.splitlines()[0]
'Create a prepay (``trade_type`` JSAPI, NATIVE, APP or MWEB).'
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TypeVar

import httpx

from paydesk.client._mapping import request_id_of, status_error_class, v2_error
from paydesk.client._transport import USER_AGENT, Boundary, Sleep, with_retries
from paydesk.client.config import Endpoints, MerchantAccount, NonceSource, random_nonce
from paydesk.client.errors import ResponseNotVerified, UnexpectedResponse
from paydesk.protocol.errors import KeyFormatError, MalformedInput, ProtocolError, SignatureError
from paydesk.protocol.v2 import endpoints as v2
from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
from paydesk.protocol.v2.models import (
    CloseOrderResponse,
    OrderQueryResponse,
    RefundQueryResponse,
    RefundResponse,
    UnifiedOrderResponse,
    V2Response,
    parse_v2_response,
)

__all__ = ["PayV2Client", "V2Fields"]

#: Request fields as the caller gives them: text, or whole numbers (fen).
V2Fields = Mapping[str, str | int | None]

ReplyT = TypeVar("ReplyT", bound=V2Response)

_ADDED_BY_CLIENT = ("mch_id", "nonce_str", "sign", "sign_type")


class PayV2Client:
    """Pay v2 calls for one merchant that has a ``v2_key``.

    ``await PayV2Client(account, endpoints=endpoints, http=http).order_query("wx1",
    out_trade_no="T0001")``
    """

    def __init__(
        self,
        account: MerchantAccount,
        *,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        nonce: NonceSource = random_nonce,
        retries: int = 2,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        secapi_http: httpx.AsyncClient | None = None,
    ) -> None:
        if account.v2_key is None:
            raise KeyFormatError(f"merchant {account.mchid} has no APIv2 key")
        self.account = account
        self._key = account.v2_key
        self._endpoints = endpoints
        self._http = http
        self._secapi_http = secapi_http or http
        self._boundary = Boundary(http, timeout=timeout)
        self._secapi_boundary = Boundary(self._secapi_http, timeout=timeout)
        self._nonce = nonce
        self._retries = retries
        self._sleep = sleep

    async def unified_order(self, fields: V2Fields) -> UnifiedOrderResponse:
        """Create a prepay (``trade_type`` JSAPI, NATIVE, APP or MWEB).

        Doc: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_1 — ``fields``:
        ``appid, body, out_trade_no, total_fee, spbill_create_ip, notify_url, trade_type``,
        ``openid`` for JSAPI, and any optional field.
        """
        return await self._call(v2.UNIFIED_ORDER, fields, UnifiedOrderResponse)

    async def order_query(
        self, appid: str, *, out_trade_no: str | None = None, transaction_id: str | None = None
    ) -> OrderQueryResponse:
        """The order's ``trade_state``. Doc: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_2"""
        fields = {"appid": appid, "out_trade_no": out_trade_no, "transaction_id": transaction_id}
        return await self._call(v2.ORDER_QUERY, fields, OrderQueryResponse)

    async def close_order(self, appid: str, out_trade_no: str) -> CloseOrderResponse:
        """Close an unpaid order. Doc: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_3"""
        fields = {"appid": appid, "out_trade_no": out_trade_no}
        return await self._call(v2.CLOSE_ORDER, fields, CloseOrderResponse)

    async def refund(self, fields: V2Fields) -> RefundResponse:
        """Ask for a refund: ``appid, out_trade_no | transaction_id, out_refund_no, total_fee,
        refund_fee``. Doc: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_4"""
        return await self._call(v2.REFUND, fields, RefundResponse)

    async def refund_query(
        self,
        appid: str,
        *,
        out_refund_no: str | None = None,
        out_trade_no: str | None = None,
        transaction_id: str | None = None,
        refund_id: str | None = None,
    ) -> RefundQueryResponse:
        """An order's refunds. Doc: https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_5"""
        fields = {
            "appid": appid,
            "out_refund_no": out_refund_no,
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id,
            "refund_id": refund_id,
        }
        return await self._call(v2.REFUND_QUERY, fields, RefundQueryResponse)

    async def _call(self, endpoint: v2.V2Endpoint, fields: V2Fields, reply: type[ReplyT]) -> ReplyT:
        body = self._body(endpoint, fields)
        boundary = self._secapi_boundary if endpoint.client_cert else self._boundary
        http = self._secapi_http if endpoint.client_cert else self._http
        url = self._endpoints.pay_url(endpoint.path)
        headers = {"Content-Type": "text/xml; charset=utf-8", "User-Agent": USER_AGENT}

        async def attempt() -> dict[str, str]:
            request = http.build_request("POST", url, content=body, headers=headers)
            return self._read(await boundary.send(request))

        answer = await with_retries(attempt, retries=self._retries, sleep=self._sleep)
        try:
            return reply.from_fields(answer)
        except MalformedInput as exc:
            raise UnexpectedResponse(f"v2 reply: {exc.reason}", status=200) from exc

    def _body(self, endpoint: v2.V2Endpoint, fields: V2Fields) -> bytes:
        """The signed XML, rendered once: every attempt sends these bytes."""
        clashing = [name for name in _ADDED_BY_CLIENT if name in fields]
        if clashing:
            raise MalformedInput(f"the client adds {clashing} itself", field=clashing[0])
        given = {name: value for name, value in fields.items() if value is not None}
        request = {
            **given,
            "mch_id": self.account.mchid,
            "nonce_str": self._nonce(),
            "sign_type": self.account.v2_sign_type,
        }
        # "sign" is added by signed_xml below; every other required field must be here now.
        as_text = {name: str(value) for name, value in request.items()} | {"sign": "pending"}
        missing = endpoint.missing(as_text)
        if missing:
            raise MalformedInput(f"{endpoint.path} needs {missing}", field=missing[0])
        xml = signed_xml(request, key=self._key, sign_type=self.account.v2_sign_type)
        return xml.encode("utf-8")

    def _read(self, response: httpx.Response) -> dict[str, str]:
        """Verify and check one reply; the fields of a successful business answer."""
        body = response.content
        if response.status_code != 200:
            # Not WeChat's usual answer (a gateway, or the sandbox's 5xx fault): the body is
            # unsigned, so it only names the error.
            try:
                fields = parse_v2_fields(body)
            except ProtocolError:
                fields = {}
            cls = status_error_class(response.status_code)
            code = (
                fields.get("err_code")
                or fields.get("return_code")
                or f"HTTP_{response.status_code}"
            )
            message = fields.get("err_code_des") or fields.get("return_msg") or code
            raise cls(
                message,
                status=response.status_code,
                code=code,
                body=body,
                request_id=request_id_of(response.headers),
            )
        try:
            fields = parse_v2_response(body, key=self._key, sign_type=self.account.v2_sign_type)
        except SignatureError as exc:
            raise ResponseNotVerified(f"v2 reply: {exc.reason}", status=200, body=body) from exc
        except MalformedInput as exc:
            raise UnexpectedResponse(f"v2 reply: {exc.reason}", status=200, body=body) from exc
        if fields.get("return_code") != "SUCCESS" or fields.get("result_code") != "SUCCESS":
            raise v2_error(fields, 200, body)
        return fields
