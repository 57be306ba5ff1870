"""RSA-OAEP (SHA-1, MGF1-SHA1, empty label) for APIv3's sensitive fields.

WeChat encrypts names, phone numbers and the like with RSAES-OAEP; the sender uses WeChat's
platform key, the receiver its own private key (wechatpay-go ``utils.EncryptOAEPWithPublicKey``
uses ``sha1.New()``). Encryption needs a random seed; to keep this layer pure the seed is an
argument, so :func:`oaep_encrypt` is EME-OAEP encoding (RFC 8017 §7.1.1) written out here,
followed by the textbook RSA public operation on Python ints.

>>> len(mgf1_sha1(b"seed", 45))
45
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from paydesk.protocol.errors import DecryptError, MalformedInput

__all__ = [
    "SEED_BYTES",
    "eme_oaep_encode",
    "mgf1_sha1",
    "oaep_decrypt",
    "oaep_decrypt_bytes",
    "oaep_encrypt",
    "oaep_encrypt_bytes",
]

#: Length of the OAEP seed: one SHA-1 output.
SEED_BYTES = 20
# SHA-1 inside OAEP is WeChat's choice (and still sound for OAEP); it is not ours to change.
_EMPTY_LABEL_HASH = hashlib.sha1(b"").digest()  # noqa: S324
_SHA1 = hashes.SHA1()  # noqa: S303
_OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(_SHA1), algorithm=_SHA1, label=None)


def mgf1_sha1(seed: bytes, length: int) -> bytes:
    """MGF1 with SHA-1 (RFC 8017 §B.2.1): ``length`` bytes of mask from ``seed``."""
    blocks = (length + SEED_BYTES - 1) // SEED_BYTES
    stream = b"".join(
        hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()  # noqa: S324
        for counter in range(blocks)
    )
    return stream[:length]


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def eme_oaep_encode(message: bytes, *, key_bytes: int, seed: bytes) -> bytes:
    """The encoded message ``EM`` (``key_bytes`` long) of RFC 8017 §7.1.1 step 2, empty label.

    >>> eme_oaep_encode(b"hi", key_bytes=128, seed=bytes(20))[:1]
    b'\\x00'
    """
    if len(seed) != SEED_BYTES:
        raise MalformedInput(f"OAEP seed must be {SEED_BYTES} bytes", field="seed")
    room = key_bytes - 2 * SEED_BYTES - 2
    if len(message) > room:
        raise MalformedInput(f"message too long for RSA-OAEP: {len(message)} > {room} bytes")
    # DB = lHash || PS || 0x01 || M, masked by the seed; then the seed masked by maskedDB.
    data_block = _EMPTY_LABEL_HASH + bytes(room - len(message)) + b"\x01" + message
    masked_block = _xor(data_block, mgf1_sha1(seed, key_bytes - SEED_BYTES - 1))
    masked_seed = _xor(seed, mgf1_sha1(masked_block, SEED_BYTES))
    return b"\x00" + masked_seed + masked_block


def oaep_encrypt_bytes(public_key: RSAPublicKey, message: bytes, *, seed: bytes) -> bytes:
    """RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1) with a caller-supplied seed; raw ciphertext."""
    numbers = public_key.public_numbers()
    key_bytes = (numbers.n.bit_length() + 7) // 8
    encoded = eme_oaep_encode(message, key_bytes=key_bytes, seed=seed)
    cipher_int = pow(int.from_bytes(encoded, "big"), numbers.e, numbers.n)
    return cipher_int.to_bytes(key_bytes, "big")


def oaep_encrypt(public_key: RSAPublicKey, plaintext: str, *, seed: bytes) -> str:
    """Encrypt a sensitive field for WeChat: base64 of RSA-OAEP over its UTF-8 bytes.

    ``seed`` must be 20 fresh random bytes per call in production (the caller draws them).
    """
    raw = oaep_encrypt_bytes(public_key, plaintext.encode("utf-8"), seed=seed)
    return base64.b64encode(raw).decode("ascii")


def oaep_decrypt_bytes(private_key: RSAPrivateKey, ciphertext: bytes) -> bytes:
    """RSAES-OAEP-DECRYPT with SHA-1; :class:`DecryptError` on any failure."""
    try:
        return private_key.decrypt(ciphertext, _OAEP_SHA1)
    except ValueError as exc:
        raise DecryptError("RSA-OAEP decryption failed") from exc


def oaep_decrypt(private_key: RSAPrivateKey, ciphertext_b64: str) -> str:
    """Decrypt a base64 sensitive field to text; :class:`DecryptError` on any failure."""
    try:
        raw = binascii.a2b_base64(ciphertext_b64, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("RSA-OAEP ciphertext is not base64") from exc
    try:
        return oaep_decrypt_bytes(private_key, raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptError("RSA-OAEP plaintext is not UTF-8") from exc
