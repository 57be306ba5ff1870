"""The merchant's side of a message push, with the protocol layer only: what a merchant's server
does with what the sandbox sends to its push URL."""

from __future__ import annotations

from paydesk.protocol.messages import (
    MessageCrypto,
    PushFormat,
    check_push_signature,
    extract_encrypt,
)
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.push_build import PushMode


def open_push(
    app: AppCredentials, query: dict[str, str], body: bytes, mode: PushMode, fmt: PushFormat
) -> bytes:
    """Check a push's signatures, decrypt it, and return the message (for ``parse_push``)."""
    check_push_signature(
        token=app.push_token,
        timestamp=query["timestamp"],
        nonce=query["nonce"],
        signature=query["signature"],
    )
    if mode == "plain":
        assert "encrypt_type" not in query
        assert "msg_signature" not in query
        return body
    assert query["encrypt_type"] == "aes"
    crypto = MessageCrypto(app.push_token, app.encoding_aes_key, app.appid)
    return crypto.open(
        msg_signature=query["msg_signature"],
        timestamp=query["timestamp"],
        nonce=query["nonce"],
        encrypt=extract_encrypt(body, fmt),
    )
