"""Safe-mode message crypto (WXBizMsgCrypt): AES-256-CBC with the app's EncodingAESKey.

The algorithm of WeChat's cryptoDemo ``WXBizMsgCrypt`` (PROTOCOL.md §4.4,
https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html):

- AESKey = base64decode(EncodingAESKey + "="), 32 bytes; IV = AESKey[:16];
- plaintext = random(16) ‖ uint32_be(len(msg)) ‖ msg ‖ appid, PKCS#7-padded to a multiple of
  **32** bytes (not AES's 16), then CBC, then base64 → ``Encrypt``;
- ``msg_signature`` = sha1 of sorted [token, timestamp, nonce, Encrypt].

CBC without a MAC is malleable, so :meth:`MessageCrypto.open` always checks ``msg_signature``
before decrypting, and :meth:`MessageCrypto.decrypt` checks the trailing appid.

>>> crypto = MessageCrypto("AAAAA", "A" * 43, "wxba5fad812f8e6fb9")
>>> sealed = crypto.encrypt(b'{"demo_resp":"good luck"}', random16=b"707722b803182950")
>>> crypto.decrypt(sealed)
b'{"demo_resp":"good luck"}'
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import struct
from typing import Literal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paydesk.protocol.errors import DecryptError, KeyFormatError, MalformedInput
from paydesk.protocol.messages.signature import check_push_signature, push_signature
from paydesk.protocol.xmlcodec import to_xml

__all__ = ["MessageCrypto"]

_BLOCK_BITS = 256  # WXBizMsgCrypt pads to 32 bytes
_LENGTH = struct.Struct(">I")


class MessageCrypto:
    """Encrypt, decrypt and sign safe-mode pushes for one app (token, EncodingAESKey, appid).

    ``KeyFormatError`` if ``encoding_aes_key`` is not 43 base64 characters (32 bytes).

    >>> MessageCrypto("AAAAA", "A" * 43, "wxba5fad812f8e6fb9")
    MessageCrypto(appid='wxba5fad812f8e6fb9')
    """

    __slots__ = ("_appid", "_cipher", "_token")

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        if len(encoding_aes_key) != 43:
            raise KeyFormatError(
                f"EncodingAESKey must be 43 characters, got {len(encoding_aes_key)}"
            )
        try:
            aes_key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyFormatError("EncodingAESKey is not base64") from exc
        self._token = token
        self._appid = appid.encode()
        self._cipher = Cipher(algorithms.AES(aes_key), modes.CBC(aes_key[:16]))

    def __repr__(self) -> str:
        return f"MessageCrypto(appid={self._appid.decode()!r})"

    def encrypt(self, message: bytes, *, random16: bytes) -> str:
        """``Encrypt`` for ``message``; ``random16`` is the 16 random bytes the caller drew.

        >>> crypto = MessageCrypto("t", "A" * 43, "wx1")
        >>> len(crypto.encrypt(b"hi", random16=bytes(16)))
        44
        """
        if len(random16) != 16:
            raise MalformedInput(f"random16 must be 16 bytes, got {len(random16)}")
        plain = random16 + _LENGTH.pack(len(message)) + message + self._appid
        padder = padding.PKCS7(_BLOCK_BITS).padder()
        encryptor = self._cipher.encryptor()
        sealed = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside ``Encrypt``; ``DecryptError`` if anything, appid included, is off.

        Does not check any signature: use :meth:`open` for what arrives from outside.

        >>> crypto = MessageCrypto("t", "A" * 43, "wx1")
        >>> crypto.decrypt(crypto.encrypt(b"<xml/>", random16=bytes(16)))
        b'<xml/>'
        """
        try:
            sealed = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptError("Encrypt is not base64") from exc
        if not sealed or len(sealed) % 16:
            raise DecryptError(f"Encrypt is {len(sealed)} bytes, not whole AES blocks")
        decryptor = self._cipher.decryptor()
        padded = decryptor.update(sealed) + decryptor.finalize()
        unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
        try:
            plain = unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise DecryptError("Encrypt padding is wrong: wrong EncodingAESKey?") from exc
        if len(plain) < 20:
            raise DecryptError("Encrypt is too short to hold a message")
        (length,) = _LENGTH.unpack_from(plain, 16)
        end = 20 + length
        if end > len(plain):
            raise DecryptError("Encrypt's message length runs past its end")
        if not hmac.compare_digest(plain[end:], self._appid):
            raise DecryptError("Encrypt was sealed for another appid")
        return plain[20:end]

    def open(self, *, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """Verify ``msg_signature`` over ``Encrypt``, then decrypt: the safe-mode receive path.

        ``SignatureMismatch`` first, ``DecryptError`` second.

        >>> crypto = MessageCrypto("t", "A" * 43, "wx1")
        >>> sealed = crypto.encrypt(b"hi", random16=bytes(16))
        >>> crypto.open(msg_signature=push_signature("t", "1", "n", sealed), timestamp="1",
        ...             nonce="n", encrypt=sealed)
        b'hi'
        """
        check_push_signature(
            token=self._token,
            timestamp=timestamp,
            nonce=nonce,
            signature=msg_signature,
            encrypt=encrypt,
        )
        return self.decrypt(encrypt)

    def seal_reply(
        self,
        message: bytes,
        *,
        timestamp: int,
        nonce: str,
        random16: bytes,
        fmt: Literal["xml", "json"],
    ) -> str:
        """An encrypted passive reply: ``Encrypt``, ``MsgSignature``, ``TimeStamp``, ``Nonce``.

        JSON for JSON pushes, XML (``TimeStamp`` as a bare number) for XML ones.

        >>> crypto = MessageCrypto("t", "A" * 43, "wx1")
        >>> reply = crypto.seal_reply(b"success", timestamp=1, nonce="n", random16=bytes(16),
        ...                           fmt="json")
        >>> sorted(json.loads(reply))
        ['Encrypt', 'MsgSignature', 'Nonce', 'TimeStamp']
        """
        encrypt = self.encrypt(message, random16=random16)
        envelope: dict[str, str | int] = {
            "Encrypt": encrypt,
            "MsgSignature": push_signature(self._token, str(timestamp), nonce, encrypt),
            "TimeStamp": timestamp,
            "Nonce": nonce,
        }
        if fmt == "json":
            return json.dumps(envelope, separators=(",", ":"))
        if fmt == "xml":
            return to_xml(envelope)
        raise MalformedInput(f"reply format must be 'xml' or 'json', not {fmt!r}", field="fmt")
