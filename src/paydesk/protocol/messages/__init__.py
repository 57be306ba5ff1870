"""Mini program / official-account message push: signatures, safe-mode crypto, push bodies.

Modules: :mod:`.signature` (the SHA-1 push signatures), :mod:`.crypto` (WXBizMsgCrypt
safe mode), :mod:`.push` (incoming pushes in XML or JSON, customer-service send bodies),
:mod:`.xpay` (virtual payment's ``xpay_goods_deliver_notify`` event and its JSON answer).

>>> from paydesk.protocol.messages import push_signature
>>> push_signature("AAAAA", "1714036504", "1514711492")[:8]
'f464b24f'
"""

from __future__ import annotations

from paydesk.protocol.messages.crypto import MessageCrypto
from paydesk.protocol.messages.push import (
    PUSH_ACK,
    PushedMessage,
    PushFormat,
    custom_image,
    custom_link,
    custom_miniprogrampage,
    custom_text,
    encode_send_body,
    extract_encrypt,
    parse_push,
    render_push,
)
from paydesk.protocol.messages.signature import check_push_signature, push_signature
from paydesk.protocol.messages.xpay import (
    GOODS_DELIVER_EVENT,
    GoodsDeliverNotify,
    goods_deliver_fields,
    is_goods_deliver,
    parse_goods_deliver,
    parse_xpay_answer,
    xpay_answer,
)

__all__ = [
    "GOODS_DELIVER_EVENT",
    "PUSH_ACK",
    "GoodsDeliverNotify",
    "MessageCrypto",
    "PushFormat",
    "PushedMessage",
    "check_push_signature",
    "custom_image",
    "custom_link",
    "custom_miniprogrampage",
    "custom_text",
    "encode_send_body",
    "extract_encrypt",
    "goods_deliver_fields",
    "is_goods_deliver",
    "parse_goods_deliver",
    "parse_push",
    "parse_xpay_answer",
    "push_signature",
    "render_push",
    "xpay_answer",
]
