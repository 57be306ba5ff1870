"""The v3 request pipeline: check headers → verify the merchant's signature → act → sign.

Every v3 route goes through :func:`v3_route`, in this order (PROTOCOL.md §1.2, §1.3, §5):

1. ``Accept`` / ``User-Agent`` present where WeChat was seen to insist (certificates, refunds);
2. ``Authorization`` parsed, its merchant and serial known, its timestamp within 300 s of the
   *wall* clock, its signature valid over the body bytes and the path + query exactly as the
   merchant signed them (:func:`~paydesk.sandbox.http.signed_url`) — else 401 ``SIGN_ERROR``
   with the messages WeChat was observed to send (shared/wechat/vectors/v3_error_codes.json);
3. the handler, whose :class:`~paydesk.sandbox.pay.refusals.Refusal` becomes WeChat's error body
   (no ``Wechatpay-*`` headers on errors);
4. 2xx answers signed with the merchant's platform key, plus ``Request-ID``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paydesk.protocol.errors import MalformedInput, SignatureError, StaleTimestamp
from paydesk.protocol.times import to_unix
from paydesk.protocol.v3.signing import parse_authorization, verify_authorization
from paydesk.protocol.v3.verify import sign_response
from paydesk.sandbox.http import signed_url
from paydesk.sandbox.pay.merchants import MerchantKeys, same_serial
from paydesk.sandbox.pay.refusals import Refusal, param_error

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["MAX_V3_BODY", "V3Call", "V3Handler", "error_response", "parse_body", "v3_route"]

#: v3 request bodies are a few hundred bytes; anything this big is not a payment.
MAX_V3_BODY = 64 * 1024

_MSG_FORMAT = "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"
_MSG_PAY_FORMAT = "签名信息错误，验签失败"
_MSG_SIGN = "签名错误"
_MSG_STALE = "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟"
_PAY_PREFIX = "/v3/pay/transactions/"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class V3Call:
    """One authenticated v3 request: who sent it, what they sent, and how to answer."""

    world: PayWorld
    request: Request
    merchant: MerchantKeys
    body: bytes

    def signed(self, content: bytes, status: int = 200, media_type: str | None = None) -> Response:
        """Any body, signed with the merchant's platform key, with ``Request-ID``."""
        sandbox = self.world.sandbox
        headers = sign_response(
            self.merchant.platform_key,
            serial=self.merchant.platform_serial,
            timestamp=to_unix(sandbox.clock.wall()),
            nonce=self.world.ids.nonce(),
            body=content,
        )
        headers["Request-ID"] = self.world.ids.request_id()
        return Response(content, status, headers=headers, media_type=media_type)

    def ok(self, data: dict[str, Any], status: int = 200) -> Response:
        """A signed JSON answer (compact UTF-8, the exact bytes that were signed)."""
        content = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.signed(content, status, "application/json")

    def no_content(self) -> Response:
        """A signed ``204 No Content`` (the empty body is what gets signed)."""
        return self.signed(b"", 204)

    def check_mchid(self, mchid: object, field: str) -> None:
        """The ``mchid`` in the body or query must be the signer's (``PARAM_ERROR`` else)."""
        if not isinstance(mchid, str) or not mchid:
            raise param_error(field, "缺少 mchid")
        if mchid != self.merchant.mchid:
            raise param_error(field, "mchid与请求头Authorization中的商户号不一致")

    def query_mchid(self) -> None:
        """The query's ``?mchid=`` must be present and the signer's."""
        mchid = self.request.query_params.get("mchid")
        try:
            self.check_mchid(mchid, "mchid")
        except Refusal as exc:
            exc.location = "query"
            raise


def parse_body(model: type[ModelT], body: bytes) -> ModelT:
    """Validate a JSON body with a protocol model; PARAM_ERROR names the field as a pointer.

    >>> from paydesk.protocol.v3.models.payments import Amount
    >>> parse_body(Amount, b'{"total": 0}').v3_body()["detail"]["field"]
    Traceback (most recent call last):
    ...
    paydesk.sandbox.pay.refusals.Refusal: PARAM_ERROR: 参数错误: Input should be greater than 0
    """
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        pointer = "/" + "/".join(str(part) for part in first["loc"])
        raise param_error(pointer, str(first["msg"])) from exc


def error_response(world: PayWorld, refusal: Refusal, *, request_id: bool = True) -> Response:
    """WeChat's v3 error body for a refusal; ``Request-ID`` but never ``Wechatpay-*``."""
    headers = {"Request-ID": world.ids.request_id(refusal.platform_error)} if request_id else {}
    content = json.dumps(refusal.v3_body(), ensure_ascii=False).encode("utf-8")
    return Response(content, refusal.status, headers=headers, media_type="application/json")


def _sign_refusal(message: str, issue: str, method: str, url: str) -> Refusal:
    refusal = Refusal("SIGN_ERROR", message, status=401)
    refusal.detail = {
        "field": "signature",
        "location": "authorization",
        "issue": issue,
        "sign_information": {"method": method, "url": url},
    }
    return refusal


def _authenticate(world: PayWorld, request: Request, body: bytes) -> MerchantKeys:
    url, method = signed_url(request), request.method
    header = request.headers.get("authorization", "")
    format_message = _MSG_PAY_FORMAT if url.startswith(_PAY_PREFIX) else _MSG_FORMAT
    try:
        auth = parse_authorization(header)
    except MalformedInput as exc:
        raise _sign_refusal(format_message, exc.reason, method, url) from exc
    merchant = world.merchants.get(auth.mchid)
    if merchant is None:
        raise _sign_refusal(_MSG_SIGN, f"unknown mchid {auth.mchid}", method, url)
    if not same_serial(auth.serial_no, merchant.credentials.merchant_serial_no):
        issue = "serial_no is not this merchant's API certificate serial"
        raise _sign_refusal(_MSG_SIGN, issue, method, url)
    try:
        verify_authorization(
            header,
            method=method,
            url=url,
            body=body,
            public_key=merchant.merchant_public_key,
            now=to_unix(world.sandbox.clock.wall()),
        )
    except StaleTimestamp as exc:
        raise _sign_refusal(_MSG_STALE, exc.reason, method, url) from exc
    except SignatureError as exc:
        issue = "sign not match: the signature does not cover this method, URL and body"
        raise _sign_refusal(_MSG_SIGN, issue, method, url) from exc
    return merchant


V3Handler = Callable[[V3Call], Awaitable[Response]]


def v3_route(
    world: PayWorld, path: str, method: str, handler: V3Handler, *, strict_headers: bool = False
) -> Route:
    """A Starlette route that runs ``handler`` behind the v3 pipeline above."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            if strict_headers and not (
                request.headers.get("user-agent") and request.headers.get("accept")
            ):
                raise Refusal("INVALID_REQUEST", "Http头缺少Accept或User-Agent")
            if len(body) > MAX_V3_BODY:
                raise Refusal("PARAM_ERROR", f"请求体过大 (over {MAX_V3_BODY} bytes)", status=413)
            merchant = _authenticate(world, request, body)
            return await handler(V3Call(world, request, merchant, body))
        except Refusal as refusal:
            # WeChat's 401s on the pay paths were seen without Request-ID (PROTOCOL.md §1.1).
            bare = refusal.status == 401 and signed_url(request).startswith(_PAY_PREFIX)
            return error_response(world, refusal, request_id=not bare)

    return Route(path, endpoint, methods=[method])
