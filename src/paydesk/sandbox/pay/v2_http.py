"""The v2 request pipeline: parse XML safely → verify ``sign`` → act → answer signed XML.

Every v2 answer is HTTP 200 (PROTOCOL.md §2.2). What goes wrong *before* the merchant is known
and its signature holds is ``return_code`` FAIL with a ``return_msg`` and nothing signed: bad
XML, unknown ``mch_id`` (WeChat says "签名错误" then too), bad ``sign``. Business failures are
``return_code`` SUCCESS, ``result_code`` FAIL with ``err_code`` / ``err_code_des``, signed. The
request's ``sign_type`` (default MD5) chooses the algorithm, for the check and the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paydesk.protocol.errors import ProtocolError, SignatureError
from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
from paydesk.protocol.v2.sign import SignType, check_sign_type, verify_v2
from paydesk.protocol.xmlcodec import to_xml
from paydesk.sandbox.pay.merchants import MerchantKeys
from paydesk.sandbox.pay.refusals import Refusal, appid_not_bound

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["MAX_V2_BODY", "V2Call", "fingerprint", "need", "need_fen", "v2_route"]

#: A v2 request is about a kilobyte.
MAX_V2_BODY = 64 * 1024
_MEDIA_TYPE = "text/plain"
# Fields that change on every retry of the same request and so are not compared on re-entry.
_VOLATILE = frozenset({"nonce_str", "sign", "sign_type"})


def fingerprint(fields: Mapping[str, str]) -> dict[str, str]:
    """The request's parameters as compared on re-entry (nonce and signature left out).

    >>> fingerprint({"out_trade_no": "T1", "nonce_str": "x", "sign": "y"})
    {'out_trade_no': 'T1'}
    """
    return {name: value for name, value in fields.items() if name not in _VOLATILE}


def need(fields: Mapping[str, str], name: str) -> str:
    """A required field, or ``LACK_PARAMS`` naming it."""
    value = fields.get(name)
    if not value:
        raise Refusal("PARAM_ERROR", f"缺少参数{name}", v2_code="LACK_PARAMS", field=name)
    return value


def need_fen(fields: Mapping[str, str], name: str) -> int:
    """A required positive amount in fen (ASCII digits), or ``PARAM_ERROR``."""
    text = need(fields, name)
    if not (text.isascii() and text.isdigit() and len(text) <= 12 and int(text) > 0):
        raise Refusal("PARAM_ERROR", f"{name}参数错误: 须为正整数(分)", field=name)
    return int(text)


def _fail(message: str) -> Response:
    return Response(to_xml({"return_code": "FAIL", "return_msg": message}), media_type=_MEDIA_TYPE)


@dataclass
class V2Call:
    """One verified v2 request and how to answer it."""

    world: PayWorld
    request: Request
    merchant: MerchantKeys
    fields: dict[str, str]
    sign_type: SignType

    def _signed(self, result: Mapping[str, str | int]) -> Response:
        answer: dict[str, str | int] = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": self.fields.get("appid", ""),
            "mch_id": self.merchant.mchid,
            "nonce_str": self.world.ids.nonce(),
            **result,
        }
        body = signed_xml(answer, key=self.merchant.v2_key, sign_type=self.sign_type)
        return Response(body, media_type=_MEDIA_TYPE)

    def answer(self, result: Mapping[str, str | int]) -> Response:
        """``result_code`` SUCCESS with ``result``'s fields, signed."""
        return self._signed({"result_code": "SUCCESS", **result})

    def refuse(self, refusal: Refusal) -> Response:
        """``result_code`` FAIL with the refusal's v2 ``err_code``, signed."""
        return self._signed(
            {"result_code": "FAIL", "err_code": refusal.v2_code, "err_code_des": refusal.message}
        )


V2Handler = Callable[[V2Call], Awaitable[Response]]


def v2_route(world: PayWorld, path: str, handler: V2Handler) -> Route:
    """A Starlette POST route that runs ``handler`` behind the v2 pipeline above."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if not body:
            return _fail("post数据为空")
        if len(body) > MAX_V2_BODY:
            return _fail(f"请求体过大 (over {MAX_V2_BODY} bytes)")
        try:
            fields = parse_v2_fields(body, max_bytes=MAX_V2_BODY)
        except ProtocolError:
            return _fail("XML格式错误")
        merchant = world.merchants.get(fields.get("mch_id", ""))
        if merchant is None:
            return _fail("签名错误")
        try:
            sign_type = check_sign_type(fields.get("sign_type") or "MD5")
            verify_v2(fields, merchant.v2_key, sign_type)
        except SignatureError:
            return _fail("签名错误")
        call = V2Call(world, request, merchant, fields, sign_type)
        try:
            if not world.merchants.bound(fields.get("appid", ""), merchant.mchid):
                raise appid_not_bound()
            return await handler(call)
        except Refusal as refusal:
            return call.refuse(refusal)

    return Route(path, endpoint, methods=["POST"])
