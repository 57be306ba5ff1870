"""Signed APIv3 responses and notifications, both sides (PROTOCOL.md §1.3, §1.5).

WeChat Pay signs ``timestamp\\nnonce\\nbody\\n`` with a platform key and names the key in
``Wechatpay-Serial``: a platform certificate serial, or a ``PUB_KEY_ID_…`` public-key id. The
verifier picks the key among *our* keys only (:class:`KeySet`), never from the body.

>>> SignedHeaders.from_headers({"wechatpay-timestamp": "1", "Wechatpay-Nonce": "n",
...     "WECHATPAY-SIGNATURE": "c2ln", "Wechatpay-Serial": "S"}).serial
'S'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from paydesk.protocol.errors import (
    KeyFormatError,
    MalformedInput,
    SignatureMismatch,
    SignTestProbe,
    StaleTimestamp,
    UnknownSerial,
    UnsupportedSignatureType,
)
from paydesk.protocol.keys import certificate_public_key, certificate_serial, is_public_key_id
from paydesk.protocol.v3.signing import SCHEME, rsa_sign, rsa_verify

__all__ = [
    "SIGN_TEST_PREFIX",
    "KeySet",
    "SignedHeaders",
    "response_message",
    "sign_response",
    "verify_signed",
]

#: WeChat's deliberate bad-signature probe; it must be refused with a 4xx (PROTOCOL.md §1.3).
SIGN_TEST_PREFIX = "WECHATPAY/SIGNTEST/"

_HEX = re.compile(r"[0-9A-Fa-f]+")
_MAX_TIMESTAMP_DIGITS = 18
# Header name -> SignedHeaders attribute, under both the canonical and the lower-case
# spelling, so the usual senders (httpx, Starlette, plain dicts) hit without lower().
_HEADER_FIELDS = {
    spelled: attribute
    for canonical, attribute in (
        ("Wechatpay-Timestamp", "timestamp"),
        ("Wechatpay-Nonce", "nonce"),
        ("Wechatpay-Signature", "signature"),
        ("Wechatpay-Serial", "serial"),
        ("Wechatpay-Signature-Type", "signature_type"),
    )
    for spelled in (canonical, canonical.lower())
}
_REQUIRED = (
    ("Wechatpay-Timestamp", "timestamp"),
    ("Wechatpay-Nonce", "nonce"),
    ("Wechatpay-Signature", "signature"),
    ("Wechatpay-Serial", "serial"),
)


def _is_timestamp(text: str) -> bool:
    # Plain ASCII decimal without leading zeros, so str(int(text)) == text and the signed
    # message can be rebuilt from the int byte for byte.
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= _MAX_TIMESTAMP_DIGITS
        and (text[0] != "0" or text == "0")
    )


def _canonical_serial(serial: str) -> str:
    # Go prints serials byte-wise ("0ABC"), Java and Python as a number ("ABC"): match both.
    if _HEX.fullmatch(serial):
        return serial.upper().lstrip("0") or "0"
    return serial


def response_message(timestamp: int, nonce: str, body: bytes) -> bytes:
    """The bytes WeChat signs on a response or notification: three lines, each ending ``\\n``.

    >>> response_message(1554208460, "n", b"{}")
    b'1554208460\\nn\\n{}\\n'
    """
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


@dataclass(frozen=True)
class KeySet:
    """WeChat Pay's public keys for one merchant, by serial or public-key id.

    During a migration a merchant holds both kinds; :meth:`merge` joins them.

    >>> KeySet.merge().serials
    ()
    """

    keys: Mapping[str, RSAPublicKey]
    _lookup: Mapping[str, RSAPublicKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = dict(self.keys)
        # Exact serials first (the usual hit), then their canonical form for the odd sender.
        lookup = {_canonical_serial(serial): key for serial, key in keys.items()} | keys
        object.__setattr__(self, "keys", MappingProxyType(keys))
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def from_certificates(cls, certs: Iterable[x509.Certificate]) -> KeySet:
        """Platform certificates, each named by its serial (uppercase hex)."""
        return cls({certificate_serial(cert): certificate_public_key(cert) for cert in certs})

    @classmethod
    def from_public_key(cls, key_id: str, key: RSAPublicKey) -> KeySet:
        """The WeChat Pay public key and its ``PUB_KEY_ID_…`` id (public-key mode)."""
        if not is_public_key_id(key_id):
            raise KeyFormatError(f"not a PUB_KEY_ID_ public-key id: {key_id!r}")
        return cls({key_id: key})

    @classmethod
    def merge(cls, *sets: KeySet) -> KeySet:
        """All keys of ``sets``; the same serial naming two different keys is refused."""
        merged: dict[str, RSAPublicKey] = {}
        for key_set in sets:
            for serial, key in key_set.keys.items():
                known = merged.setdefault(serial, key)
                if known.public_numbers() != key.public_numbers():
                    raise KeyFormatError(f"serial {serial} names two different keys")
        return cls(merged)

    @property
    def serials(self) -> tuple[str, ...]:
        """The serials and key ids this set answers to, sorted."""
        return tuple(sorted(self.keys))

    def key_for(self, serial: str) -> RSAPublicKey:
        """The key named ``serial``; :class:`UnknownSerial` if we hold none."""
        key = self._lookup.get(serial) or self._lookup.get(_canonical_serial(serial))
        if key is None:
            raise UnknownSerial(f"no key for serial {serial!r}", serial=serial)
        return key


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The ``Wechatpay-*`` headers of a response or notification.

    ``signature_type`` is ``None`` when the header was absent.
    """

    timestamp: int
    nonce: str
    signature: str
    serial: str
    signature_type: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignedHeaders:
        """Read the headers case-insensitively, in one pass over any mapping.

        Plain dicts (any case), ``httpx.Headers`` and Starlette ``Headers`` all work. A
        missing, repeated or malformed header raises :class:`MalformedInput` naming it.
        """
        fields = _HEADER_FIELDS
        found: dict[str, str] = {}
        for name, value in headers.items():
            attribute = fields.get(name) or fields.get(name.lower())
            if attribute is None:
                continue
            if attribute in found:
                raise MalformedInput(f"header {name} appears twice", field=name)
            found[attribute] = value
        for header, attribute in _REQUIRED:
            if not found.get(attribute):
                raise MalformedInput(f"header {header} is missing", field=header)
        timestamp = found["timestamp"]
        if not _is_timestamp(timestamp):
            raise MalformedInput(
                "header Wechatpay-Timestamp is not a decimal number", field="Wechatpay-Timestamp"
            )
        return cls(
            int(timestamp),
            found["nonce"],
            found["signature"],
            found["serial"],
            found.get("signature_type"),
        )


def verify_signed(
    headers: Mapping[str, str] | SignedHeaders,
    body: bytes,
    keys: KeySet,
    *,
    now: int,
    tolerance: int = 300,
) -> SignedHeaders:
    """Verify a signed response or notification body; return its headers.

    Checks, in order: the ``WECHATPAY/SIGNTEST/`` probe (:class:`SignTestProbe`), the
    signature type if present (:class:`UnsupportedSignatureType`), the timestamp window
    (:class:`StaleTimestamp` when ``|now - ts| >= tolerance``), the key by serial
    (:class:`UnknownSerial`) and the RSA signature (:class:`SignatureMismatch`). Every error
    carries the signed message, the serial and the signature as evidence.
    """
    signed = headers if isinstance(headers, SignedHeaders) else SignedHeaders.from_headers(headers)
    message = response_message(signed.timestamp, signed.nonce, body)
    serial, signature = signed.serial, signed.signature
    if signature.startswith(SIGN_TEST_PREFIX):
        raise SignTestProbe(
            "WeChat Pay signature probe (WECHATPAY/SIGNTEST/)",
            message=message,
            serial=serial,
            header=signature,
        )
    if signed.signature_type is not None and signed.signature_type != SCHEME:
        raise UnsupportedSignatureType(
            f"unsupported Wechatpay-Signature-Type {signed.signature_type!r}",
            message=message,
            serial=serial,
            header=signature,
        )
    if abs(now - signed.timestamp) >= tolerance:
        raise StaleTimestamp(
            f"Wechatpay-Timestamp {signed.timestamp} is {now - signed.timestamp} s from now",
            message=message,
            serial=serial,
            header=signature,
        )
    try:
        key = keys.key_for(serial)
    except UnknownSerial as exc:
        raise UnknownSerial(exc.reason, message=message, serial=serial, header=signature) from exc
    if not rsa_verify(key, message, signature):
        raise SignatureMismatch(
            "Wechatpay-Signature does not match the body",
            message=message,
            serial=serial,
            header=signature,
        )
    return signed


def sign_response(
    private_key: RSAPrivateKey, *, serial: str, timestamp: int, nonce: str, body: bytes
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers WeChat Pay (here: the sandbox) puts on a signed body."""
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(private_key, response_message(timestamp, nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEME,
    }
