"""AEAD_AES_256_GCM with the APIv3 key: notification resources and certificates (§1.6).

The key is the merchant's 32-character APIv3 key taken as raw UTF-8 bytes; ``nonce`` and
``associated_data`` are UTF-8 strings from the JSON; ``ciphertext`` is base64 of the GCM
ciphertext followed by its 16-byte tag. Any failure is a :class:`DecryptError`.

>>> cipher = Apiv3Cipher("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")
>>> cipher.decrypt(nonce="uluk4a9R25RW", associated_data="associatedData",
...                ciphertext="ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=")
b'message'
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paydesk.protocol.errors import DecryptError

__all__ = ["ALGORITHM", "Apiv3Cipher", "aead_decrypt", "aead_encrypt"]

#: The ``algorithm`` value WeChat writes next to every encrypted resource.
ALGORITHM = "AEAD_AES_256_GCM"
_KEY_BYTES = 32
# wechatpay-go's own test vectors use 16-byte keys (Go's aes.NewCipher then picks AES-128).
_TEST_KEY_BYTES = 16


def _key_bytes(key: str | bytes, *, allow_aes128: bool) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    allowed = (_KEY_BYTES, _TEST_KEY_BYTES) if allow_aes128 else (_KEY_BYTES,)
    if len(raw) not in allowed:
        raise DecryptError(f"APIv3 key must be {_KEY_BYTES} bytes, got {len(raw)}")
    return raw


class Apiv3Cipher:
    """One merchant's APIv3 key, with its AES-GCM context built once (the notify hot path).

    ``allow_aes128=True`` also takes a 16-byte key, as the official Go SDK's test vectors use;
    production keys are always 32 bytes.

    >>> Apiv3Cipher("short")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.DecryptError: APIv3 key must be 32 bytes, got 5
    """

    __slots__ = ("_decrypt", "_encrypt")

    def __init__(self, key: str | bytes, *, allow_aes128: bool = False) -> None:
        aesgcm = AESGCM(_key_bytes(key, allow_aes128=allow_aes128))
        # Bound methods kept once: decrypt runs on every notification.
        self._decrypt = aesgcm.decrypt
        self._encrypt = aesgcm.encrypt

    def __repr__(self) -> str:
        return "Apiv3Cipher(<key hidden>)"

    def decrypt(self, *, nonce: str, associated_data: str, ciphertext: str) -> bytes:
        """The plaintext bytes; :class:`DecryptError` on bad base64, nonce or tag."""
        try:
            return self._decrypt(
                nonce.encode(),
                binascii.a2b_base64(ciphertext, strict_mode=True),
                associated_data.encode(),
            )
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise DecryptError("AEAD_AES_256_GCM decryption failed") from exc

    def encrypt(self, *, nonce: str, associated_data: str, plaintext: bytes) -> str:
        """Base64 of ciphertext and tag, as WeChat sends it (the sandbox's side)."""
        try:
            sealed = self._encrypt(nonce.encode(), plaintext, associated_data.encode())
        except ValueError as exc:
            raise DecryptError("AEAD_AES_256_GCM encryption refused its nonce") from exc
        return base64.b64encode(sealed).decode("ascii")


def aead_decrypt(
    key: str | bytes,
    *,
    nonce: str,
    associated_data: str,
    ciphertext: str,
    allow_aes128: bool = False,
) -> bytes:
    """Decrypt one resource with a one-off :class:`Apiv3Cipher`.

    >>> aead_decrypt("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", nonce="uluk4a9R25RW",
    ...              associated_data="bad", ciphertext="ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.DecryptError: AEAD_AES_256_GCM decryption failed
    """
    cipher = Apiv3Cipher(key, allow_aes128=allow_aes128)
    return cipher.decrypt(nonce=nonce, associated_data=associated_data, ciphertext=ciphertext)


def aead_encrypt(
    key: str | bytes,
    *,
    nonce: str,
    associated_data: str,
    plaintext: bytes,
    allow_aes128: bool = False,
) -> str:
    """Encrypt one resource with a one-off :class:`Apiv3Cipher`; base64 of ciphertext + tag.

    >>> aead_encrypt("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", nonce="uluk4a9R25RW",
    ...              associated_data="associatedData", plaintext=b"message")
    'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI='
    """
    cipher = Apiv3Cipher(key, allow_aes128=allow_aes128)
    return cipher.encrypt(nonce=nonce, associated_data=associated_data, plaintext=plaintext)
