"""Customer-service message push: the URL configured as the app's message-push server.

GET  /wechat/push/{appid}?signature&timestamp&nonce&echostr   WeChat's server check → echostr
POST /wechat/push/{appid}?signature&timestamp&nonce[&encrypt_type=aes&msg_signature]
                                                             a user's message → ``success``;
                                                             a paid virtual payment → ErrCode JSON
GET  /wechat/thumb.png                                       the detour card's default picture

A push is verified (plain, compatible or safe mode, as the app is configured), recorded once
per ``MsgId`` / event, answered ``success`` at once, and worked on in the background: the iOS
detour answers a mini program card or an order number with a link to the cashier
(:mod:`paydesk.domain.push`; docs/ios-detour.md). Virtual payment's ``xpay_goods_deliver_notify``
is the exception: it is applied first (the order becomes PAID) and answered after the commit,
``{"ErrCode": 0, "ErrMsg": "success"}`` — or 503 with a non-zero ErrCode when the database
failed or the work is not done within WeChat's 5 s (it goes on; ``api/deadline.py``), so
WeChat sends it again (:mod:`paydesk.domain.push.xpay`). Refusals use the API's
error shape: 401 for a bad or stale signature (nothing echoed, nothing recorded), 400 for a
malformed push, 404 for an app without a push token, 413 over
:data:`~paydesk.domain.push.MAX_PUSH_BYTES`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.applications import Starlette

from paydesk.api.deadline import in_flight_of
from paydesk.api.deps import ServicesDep
from paydesk.api.errors import error_response, error_responses
from paydesk.domain.push import (
    MAX_PUSH_BYTES,
    THUMB_PATH,
    PushQuery,
    PushRuntime,
    answer_goods_deliver,
    check_server,
    open_push,
    push_app,
    still_applying,
    take_push,
    thumb_png,
)
from paydesk.protocol.messages import is_goods_deliver

router = APIRouter(tags=["customer service"])
log = logging.getLogger("paydesk.api.push")

#: WeChat gives up on an answer after 5 s and sends the push again; answer a little before.
REPLY_DEADLINE_SECONDS = 4.0

AppId = Annotated[str, Path(pattern=r"^wx[0-9a-zA-Z]{16}$")]
Signature = Annotated[str, Query(max_length=128)]
Timestamp = Annotated[str, Query(min_length=1, max_length=16)]
Nonce = Annotated[str, Query(min_length=1, max_length=64)]

# 400: malformed, undecryptable or for another app; 401: a bad or stale signature, or plain
# while the app wants encryption; 404: no such app, or none with a push_token.
_PUSH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`success` (also for a copy of a push already taken); for a virtual "
        'payment\'s `xpay_goods_deliver_notify`, `{"ErrCode": 0, "ErrMsg": "success"}` once '
        "it is applied",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    },
    503: {
        "description": "an `xpay_goods_deliver_notify` that could not be applied, or not "
        "within 4 s: a non-zero `ErrCode`, so WeChat sends it again",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    **error_responses(400, 401, 404, 413),
}
# The check's 401 is a bad or stale signature: nothing is echoed.
_CHECK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`echostr`, verbatim",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    **error_responses(401, 404),
}
_PUSH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


def push_runtime(app: Starlette) -> PushRuntime:
    """The app's push worker, made on first use with ``PAYDESK_PUSH_*`` settings.

    A test may put its own in ``app.state.push_runtime`` first (short retry delays…).
    """
    runtime: PushRuntime | None = getattr(app.state, "push_runtime", None)
    if runtime is None:
        runtime = PushRuntime()
        app.state.push_runtime = runtime
    return runtime


@router.get(
    "/wechat/push/{appid}",
    response_class=Response,
    responses=_CHECK_RESPONSES,
)
async def server_check(
    appid: AppId,
    request: Request,
    services: ServicesDep,
    signature: Signature,
    timestamp: Timestamp,
    nonce: Nonce,
    echostr: Annotated[str, Query(min_length=1, max_length=128)],
) -> PlainTextResponse:
    """WeChat's check of the push URL: ``echostr`` verbatim when the signature holds."""
    runtime = push_runtime(request.app)
    app = push_app(services.registry, appid)
    query = PushQuery(signature=signature, timestamp=timestamp, nonce=nonce)
    echo = check_server(
        app,
        query,
        echostr,
        now=services.clock.now(),
        tolerance=runtime.settings.timestamp_tolerance,
    )
    return PlainTextResponse(echo)


@router.post(
    "/wechat/push/{appid}",
    response_class=Response,
    responses=_PUSH_RESPONSES,
    openapi_extra=_PUSH_BODY,
)
async def receive_push(
    appid: AppId,
    request: Request,
    services: ServicesDep,
    timestamp: Timestamp,
    nonce: Nonce,
    signature: Signature = "",
    encrypt_type: Annotated[str | None, Query(max_length=16)] = None,
    msg_signature: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """A user's message to the app's customer service: ``success`` at once, work after; a
    virtual payment's delivery event: applied, then answered."""
    runtime = push_runtime(request.app)
    app = push_app(services.registry, appid)
    body = await request.body()
    if len(body) > MAX_PUSH_BYTES:
        return error_response(
            request, 413, "body_too_large", f"a push is at most {MAX_PUSH_BYTES} bytes"
        )
    query = PushQuery(signature, timestamp, nonce, encrypt_type, msg_signature)
    message = open_push(
        app,
        query,
        body,
        request.headers.get("content-type"),
        now=services.clock.now(),
        tolerance=runtime.settings.timestamp_tolerance,
    )
    if is_goods_deliver(message.raw):
        applying = await in_flight_of(request).within_deadline(
            answer_goods_deliver(services, app, message),
            seconds=REPLY_DEADLINE_SECONDS,
            what="virtual payment push",
        )
        if applying is None:
            log.error("virtual payment push to %s not applied within the deadline", appid)
        answer = still_applying() if applying is None else applying.result()
        return Response(answer.body, answer.status, media_type="application/json")
    if await take_push(services, app.appid, message):
        runtime.spawn(services, app, message)
    return PlainTextResponse("success")


@router.get(THUMB_PATH, include_in_schema=False)
async def thumb() -> Response:
    """The detour card's default picture."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(thumb_png(), media_type="image/png", headers=headers)
