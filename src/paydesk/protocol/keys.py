"""RSA keys and X.509 certificates as WeChat Pay uses them (PROTOCOL.md §1.2–§1.5).

A merchant signs with its API private key (``apiclient_key.pem``, PKCS#1 or PKCS#8) and names
it by the serial of its API certificate; WeChat Pay signs with a platform certificate (named by
its serial) or with the newer "WeChat Pay public key" (named ``PUB_KEY_ID_…``). Every loader
here turns a malformed or non-RSA input into :class:`~paydesk.protocol.errors.KeyFormatError`.

>>> is_public_key_id("PUB_KEY_ID_0000000000000024101100397200000006")
True
"""

from __future__ import annotations

import re
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.x509.oid import NameOID

from paydesk.protocol.errors import KeyFormatError, MalformedInput

__all__ = [
    "MIN_KEY_BITS",
    "certificate_public_key",
    "certificate_serial",
    "is_public_key_id",
    "load_certificate",
    "load_private_key",
    "load_public_key",
    "make_self_signed_certificate",
    "private_key_pem",
    "public_key_matches",
    "public_key_pem",
]

#: Smallest RSA modulus we accept. WeChat issues 2048-bit keys; 1024 keeps old test keys usable.
MIN_KEY_BITS = 1024

# https://github.com/wechatpay-apiv3/wechatpay-php README: "PUB_KEY_ID_" + digits, kept whole.
_PUBLIC_KEY_ID = re.compile(r"PUB_KEY_ID_[0-9]+")


def _pem_bytes(pem: str | bytes) -> bytes:
    return pem.encode("utf-8") if isinstance(pem, str) else pem


def _check_size(bits: int) -> None:
    if bits < MIN_KEY_BITS:
        raise KeyFormatError(f"RSA key of {bits} bits is too small (minimum {MIN_KEY_BITS})")


def load_private_key(pem: str | bytes) -> RSAPrivateKey:
    """Load an unencrypted RSA private key in PKCS#1 (``RSA PRIVATE KEY``) or PKCS#8 PEM.

    >>> load_private_key("not a key")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.KeyFormatError: not an unencrypted PEM private key
    """
    try:
        key = serialization.load_pem_private_key(_pem_bytes(pem), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not an unencrypted PEM private key") from exc
    if not isinstance(key, RSAPrivateKey):
        raise KeyFormatError(f"expected an RSA private key, got {type(key).__name__}")
    _check_size(key.key_size)
    return key


def load_public_key(pem: str | bytes) -> RSAPublicKey:
    """Load an RSA public key in SPKI (``PUBLIC KEY``) or PKCS#1 (``RSA PUBLIC KEY``) PEM.

    >>> load_public_key(b"-----BEGIN PUBLIC KEY-----\\n-----END PUBLIC KEY-----\\n")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.KeyFormatError: not a PEM public key
    """
    try:
        key = serialization.load_pem_public_key(_pem_bytes(pem))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not a PEM public key") from exc
    if not isinstance(key, RSAPublicKey):
        raise KeyFormatError(f"expected an RSA public key, got {type(key).__name__}")
    _check_size(key.key_size)
    return key


def load_certificate(pem: str | bytes) -> x509.Certificate:
    """Load a PEM X.509 certificate (validity dates are the caller's business).

    >>> load_certificate("-----BEGIN CERTIFICATE-----")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.KeyFormatError: not a PEM certificate
    """
    try:
        return x509.load_pem_x509_certificate(_pem_bytes(pem))
    except ValueError as exc:
        raise KeyFormatError("not a PEM certificate") from exc


def certificate_public_key(cert: x509.Certificate) -> RSAPublicKey:
    """The certificate's RSA public key; :class:`KeyFormatError` for any other algorithm.

    WeChat also issues SM2 platform certificates (``algorithm_type=SM2``); we verify RSA only.
    """
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("certificate public key cannot be read") from exc
    if not isinstance(key, RSAPublicKey):
        raise KeyFormatError(f"expected an RSA certificate, got {type(key).__name__}")
    _check_size(key.key_size)
    return key


def certificate_serial(cert: x509.Certificate) -> str:
    """The serial as WeChat prints it: uppercase hex of the serial's bytes.

    Like ``openssl x509 -serial`` and wechatpay-go ``utils.GetCertificateSerialNumber``
    (``fmt.Sprintf("%X", SerialNumber.Bytes())``), the hex has an even number of digits:
    serial ``0xD7CE59D1F522D701`` prints as ``'D7CE59D1F522D701'``, ``0xABC`` as ``'0ABC'``.
    """
    number = cert.serial_number
    return number.to_bytes((number.bit_length() + 7) // 8 or 1, "big").hex().upper()


def private_key_pem(key: RSAPrivateKey) -> str:
    """The key as unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_pem(key: RSAPublicKey) -> str:
    """The key as SPKI PEM (``-----BEGIN PUBLIC KEY-----``), the format WeChat publishes."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_matches(private: RSAPrivateKey, public: RSAPublicKey) -> bool:
    """True when ``public`` is the public half of ``private`` (same modulus and exponent)."""
    return private.public_key().public_numbers() == public.public_numbers()


def is_public_key_id(serial: str) -> bool:
    """True for a WeChat Pay public-key id (``PUB_KEY_ID_`` + digits), not a cert serial.

    >>> is_public_key_id("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC")
    False
    """
    return _PUBLIC_KEY_ID.fullmatch(serial) is not None


def make_self_signed_certificate(
    private_key: RSAPrivateKey,
    *,
    serial_number: int,
    common_name: str,
    not_before: datetime,
    not_after: datetime,
    issuer_key: RSAPrivateKey | None = None,
    issuer_common_name: str | None = None,
) -> x509.Certificate:
    """A certificate for ``private_key``'s public half, deterministic in its inputs.

    Self-signed by default; with ``issuer_key`` it is signed by that key instead and names
    ``issuer_common_name`` (default ``common_name + " CA"``) as issuer, like WeChat's
    "Tenpay.com CA Center" chain. The sandbox mints platform and merchant certificates with it.
    """
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise MalformedInput("certificate validity needs timezone-aware datetimes")
    if not 0 < serial_number < 2**159:
        raise MalformedInput("X.509 serial must be positive and at most 20 bytes")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer = subject
    signer = private_key
    if issuer_key is not None:
        issuer_cn = issuer_common_name or f"{common_name} CA"
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)])
        signer = issuer_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(private_key.public_key())
        .serial_number(serial_number)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=issuer_key is None, path_length=None), True)
    )
    return builder.sign(signer, hashes.SHA256())
