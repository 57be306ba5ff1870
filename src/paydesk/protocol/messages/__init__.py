"""Mini program / official-account message push: signatures, safe-mode crypto, push bodies.

Modules: :mod:`.signature` (the SHA-1 push signatures), :mod:`.crypto` (WXBizMsgCrypt
safe mode), :mod:`.push` (incoming pushes in XML or JSON, customer-service send bodies).

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

__all__ = [
    "PUSH_ACK",
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
    "parse_push",
    "push_signature",
    "render_push",
]
