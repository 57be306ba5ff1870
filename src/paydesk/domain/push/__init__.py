"""Customer-service message push: what users write to the app, and the iOS detour it enables.

==============  ====================================================================
``receive``     verify (signature, timestamp), decrypt (safe mode), parse: XML or JSON
``inbox``       ``push_messages``: a push retried by WeChat is taken once
``worker``      the work after the ``success`` answer, in a background task, retried
``detour``      card or order number → link card to the cashier (OAuth + JSAPI)
``references``  which order a card's page path or a text names
``replies``     reply templates and retry settings (``PAYDESK_PUSH_*``)
``thumb``       the link card's default picture
``xpay``        virtual payment's ``xpay_goods_deliver_notify``: applied, then answered
==============  ====================================================================

The route (``api/routes/push.py``) strings them together::

    app = push_app(services.registry, appid)
    message = open_push(app, query, body, content_type, now=..., tolerance=...)
    if is_goods_deliver(message.raw):                     # a virtual payment is paid
        return await answer_goods_deliver(services, app, message)   # after its commit
    if await take_push(services, appid, message):
        runtime.spawn(services, app, message)
    return "success"
"""

from __future__ import annotations

from paydesk.domain.push.detour import Detour, run_detour
from paydesk.domain.push.inbox import mark_handled, take_push
from paydesk.domain.push.receive import (
    MAX_PUSH_BYTES,
    PushQuery,
    check_server,
    open_push,
    push_app,
)
from paydesk.domain.push.replies import PushSettings
from paydesk.domain.push.thumb import THUMB_PATH, thumb_png
from paydesk.domain.push.worker import PushRuntime
from paydesk.domain.push.xpay import XpayAnswer, answer_goods_deliver, still_applying

__all__ = [
    "MAX_PUSH_BYTES",
    "THUMB_PATH",
    "Detour",
    "PushQuery",
    "PushRuntime",
    "PushSettings",
    "XpayAnswer",
    "answer_goods_deliver",
    "check_server",
    "mark_handled",
    "open_push",
    "push_app",
    "run_detour",
    "still_applying",
    "take_push",
    "thumb_png",
]
