"""Message-push signatures: SHA-1 of the sorted concatenation (PROTOCOL.md §4.4).

The server check (``GET ?signature&timestamp&nonce&echostr``) and every plain-mode push carry
``signature = sha1(''.join(sorted([token, timestamp, nonce])))``. In safe mode the body's
``Encrypt`` joins the list and the result is ``msg_signature``
(https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html).

Plain mode signs only the query, never the body: anyone who saw one signed URL can replay it
with another body. Prefer safe mode (reliability notes, "Message push").

>>> push_signature("AAAAA", "1714036504", "1514711492")
'f464b24fc39322e44b38aa78f5edd27bd1441696'
"""

from __future__ import annotations

import hashlib
import hmac

from paydesk.protocol.errors import SignatureMismatch

__all__ = ["check_push_signature", "push_signature"]


def push_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """Lowercase hex SHA-1 of ``token``, ``timestamp``, ``nonce`` and ``extra``, sorted and joined.

    >>> push_signature("test", "1410685589", "test")
    'f21891de399b4e33a1a93c9a7b8a8fffb5a443ff'
    """
    joined = "".join(sorted((token, timestamp, nonce, *extra)))
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324


def check_push_signature(
    *, token: str, timestamp: str, nonce: str, signature: str, encrypt: str | None = None
) -> None:
    """Raise ``SignatureMismatch`` unless ``signature`` signs this push, in constant time.

    Pass ``encrypt`` (the body's ``Encrypt``) to check a safe-mode ``msg_signature``. The
    error's evidence holds timestamp, nonce and ``Encrypt`` — never the token.

    >>> check_push_signature(token="test", timestamp="1410685589", nonce="test",
    ...                      signature="f21891de399b4e33a1a93c9a7b8a8fffb5a443ff")
    """
    extra = () if encrypt is None else (encrypt,)
    expected = push_signature(token, timestamp, nonce, *extra)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        kind = "signature" if encrypt is None else "msg_signature"
        evidence = "\n".join((timestamp, nonce, *extra))
        raise SignatureMismatch(
            f"push {kind} does not match",
            message=evidence.encode("utf-8", "replace"),
            header=signature,
        )
