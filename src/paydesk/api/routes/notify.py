"""WeChat Pay's notifications: the URLs paydesk gives WeChat as ``notify_url``.

POST /api/v1/notify/wechatpay/v3/{mchid}    JSON, signed (Wechatpay-* headers), AES-GCM resource
POST /api/v1/notify/wechatpay/v2/{mchid}    XML, signed inside (payments) or encrypted (refunds)

The raw body is read as bytes — never through a model, the signature covers the exact bytes —
and handed to :mod:`paydesk.domain.notifications`. Answers follow WeChat (PROTOCOL.md §1.8,
§2.3): accepted → 204 (v2: 200 with the SUCCESS XML); refused → 4xx with
``{"code": "FAIL", "message": …}`` (v2: the FAIL XML), so WeChat sends it again later; a
database failure, or no verdict within :data:`REPLY_DEADLINE_SECONDS`, → 500 with the same
shapes, so nothing is lost: WeChat retries on its 15 s … 6 h schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from paydesk.api.deadline import in_flight_of
from paydesk.api.deps import services_of
from paydesk.api.lean import LeanRoute
from paydesk.domain.errors import DomainError
from paydesk.domain.notifications import Receipt, receive_v2, receive_v3
from paydesk.protocol.v2.notify import NOTIFY_SUCCESS_XML, notify_fail_xml

#: Lean: WeChat's bursts skip FastAPI's dependency solving (``paydesk.api.lean``).
router = APIRouter(prefix="/api/v1/notify/wechatpay", tags=["notifications"], route_class=LeanRoute)
log = logging.getLogger("paydesk.api.notify")

#: WeChat counts an answer after 5 s as a failure; give up a little before and say so.
REPLY_DEADLINE_SECONDS = 4.0
_XML = "application/xml"


_V3_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_V3_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "accepted (applied, duplicate or recorded as an anomaly)"},
    400: {"description": 'malformed: {"code": "FAIL", "message": …}'},
    401: {"description": "bad signature, SIGNTEST probe, stale timestamp or undecryptable"},
    404: {"description": "no such merchant"},
    413: {"description": "body too large"},
    500: {"description": "not stored (database unavailable): WeChat retries"},
}
_V2_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {_XML: {"schema": {"type": "string"}}},
    }
}
_V2_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "accepted: the SUCCESS XML", "content": {_XML: {}}},
    400: {
        "description": "malformed: the FAIL XML (a control character in the path is refused"
        " before routing, in the API's JSON error shape)",
        "content": {_XML: {}, "application/json": {}},
    },
    401: {"description": "bad signature or undecryptable req_info: the FAIL XML"},
    404: {"description": "no such merchant (or none with an APIv2 key)"},
    413: {"description": "body too large"},
    500: {"description": "not stored (database unavailable): WeChat retries"},
}


async def _receive(
    request: Request, work: Callable[[bytes], Coroutine[Any, Any, Receipt]]
) -> Receipt | None:
    """The receipt, or ``None`` when no verdict was stored in time (answer 500)."""
    body = await request.body()
    task = await in_flight_of(request).within_deadline(
        work(body), seconds=REPLY_DEADLINE_SECONDS, what="notification"
    )
    if task is None:
        log.error("notification to %s not done within the deadline; answered 500", request.url.path)
        return None
    try:
        receipt = task.result()
    except (SQLAlchemyError, OSError, DomainError):
        # DomainError here is a transition that lost too many races: transient, like the
        # rest. Every case rolled back: WeChat will send the notification again.
        log.exception("notification to %s not stored; answered 500", request.url.path)
        return None
    if not receipt.accepted:
        log.warning(
            "notification to %s refused: %s (%s)",
            request.url.path,
            receipt.verdict,
            receipt.message,
        )
    return receipt


@router.post(
    "/v3/{mchid}",
    status_code=204,
    response_class=Response,
    responses=_V3_RESPONSES,
    openapi_extra=_V3_DOC,
)
async def wechatpay_v3(mchid: str, request: Request) -> Response:
    """A Pay v3 notification (payment or refund) for merchant ``mchid``."""
    services = services_of(request)  # a LeanRoute solves no dependencies
    receipt = await _receive(
        request, lambda body: receive_v3(services, mchid, request.headers, body)
    )
    if receipt is None:
        return JSONResponse({"code": "FAIL", "message": "not stored; send it again"}, 500)
    if receipt.accepted:
        return Response(status_code=204)
    return JSONResponse({"code": "FAIL", "message": receipt.message}, receipt.status)


@router.post("/v2/{mchid}", responses=_V2_RESPONSES, openapi_extra=_V2_DOC)
async def wechatpay_v2(mchid: str, request: Request) -> Response:
    """A Pay v2 notification (payment, or refund with ``req_info``) for merchant ``mchid``."""
    services = services_of(request)  # a LeanRoute solves no dependencies
    receipt = await _receive(
        request, lambda body: receive_v2(services, mchid, request.headers, body)
    )
    if receipt is None:
        return Response(notify_fail_xml("not stored; send it again"), 500, media_type=_XML)
    if receipt.accepted:
        return Response(NOTIFY_SUCCESS_XML, 200, media_type=_XML)
    return Response(notify_fail_xml(receipt.message), receipt.status, media_type=_XML)
