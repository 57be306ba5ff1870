"""``GET /v3/certificates``: WeChat Pay's platform certificates, encrypted (PROTOCOL.md §1.4).

Each entry carries ``serial_no``, ``effective_time``, ``expire_time`` and an
``encrypt_certificate`` resource (AEAD_AES_256_GCM, ``associated_data`` ``"certificate"``)
that decrypts to the PEM certificate. The response is itself signed: verify it with
:func:`paydesk.protocol.v3.verify.verify_signed` (first download: with the certificates it
carries, as wechatpay-php does) before trusting what :func:`decrypt_certificates` returns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from pydantic import BaseModel, ConfigDict, ValidationError

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.keys import certificate_serial, load_certificate
from paydesk.protocol.times import parse_rfc3339, to_rfc3339_beijing
from paydesk.protocol.v3.aead import ALGORITHM, Apiv3Cipher

__all__ = [
    "CERTIFICATE_AAD",
    "PlatformCertificate",
    "decrypt_certificates",
    "encode_certificates_response",
]

#: ``associated_data`` WeChat uses for certificate resources.
CERTIFICATE_AAD = "certificate"


class _EncryptedCertificate(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    algorithm: Literal["AEAD_AES_256_GCM"]
    nonce: str
    associated_data: str = ""
    ciphertext: str


class _CertificateEntry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    serial_no: str
    effective_time: str
    expire_time: str
    encrypt_certificate: _EncryptedCertificate


class _CertificatesBody(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    data: list[_CertificateEntry]


@dataclass(frozen=True)
class PlatformCertificate:
    """One decrypted platform certificate, with WeChat's own idea of its validity."""

    serial_no: str
    effective_time: datetime
    expire_time: datetime
    pem: str
    certificate: x509.Certificate


def _same_serial(left: str, right: str) -> bool:
    return left.upper().lstrip("0") == right.upper().lstrip("0")


def decrypt_certificates(
    body: bytes, apiv3_key: str | bytes | Apiv3Cipher, *, allow_aes128: bool = False
) -> list[PlatformCertificate]:
    """Decrypt every certificate of a ``/v3/certificates`` body.

    A certificate whose own serial differs from the ``serial_no`` next to it is refused
    (:class:`MalformedInput`): the serial is what notifications will name it by.
    """
    cipher = (
        apiv3_key
        if isinstance(apiv3_key, Apiv3Cipher)
        else Apiv3Cipher(apiv3_key, allow_aes128=allow_aes128)
    )
    try:
        parsed = _CertificatesBody.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedInput("not a /v3/certificates response body", field="data") from exc
    result: list[PlatformCertificate] = []
    for entry in parsed.data:
        resource = entry.encrypt_certificate
        plaintext = cipher.decrypt(
            nonce=resource.nonce,
            associated_data=resource.associated_data,
            ciphertext=resource.ciphertext,
        )
        try:
            pem = plaintext.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInput("decrypted certificate is not text", field="serial_no") from exc
        certificate = load_certificate(pem)
        if not _same_serial(certificate_serial(certificate), entry.serial_no):
            raise MalformedInput(
                f"certificate serial {certificate_serial(certificate)} "
                f"is listed as {entry.serial_no}",
                field="serial_no",
            )
        result.append(
            PlatformCertificate(
                serial_no=entry.serial_no,
                effective_time=parse_rfc3339(entry.effective_time),
                expire_time=parse_rfc3339(entry.expire_time),
                pem=pem,
                certificate=certificate,
            )
        )
    return result


def encode_certificates_response(
    certs: Sequence[tuple[str, datetime, datetime]],
    apiv3_key: str | bytes | Apiv3Cipher,
    *,
    nonces: Sequence[str],
    allow_aes128: bool = False,
) -> bytes:
    """The sandbox's ``/v3/certificates`` body for ``(pem, effective, expire)`` triples.

    One 12-character nonce per certificate, drawn by the caller. Compact JSON, UTF-8.
    """
    if len(nonces) != len(certs):
        raise MalformedInput("one nonce per certificate is needed", field="nonces")
    cipher = (
        apiv3_key
        if isinstance(apiv3_key, Apiv3Cipher)
        else Apiv3Cipher(apiv3_key, allow_aes128=allow_aes128)
    )
    data = []
    for (pem, effective, expire), nonce in zip(certs, nonces, strict=True):
        serial = certificate_serial(load_certificate(pem))
        ciphertext = cipher.encrypt(
            nonce=nonce, associated_data=CERTIFICATE_AAD, plaintext=pem.encode("utf-8")
        )
        data.append(
            {
                "serial_no": serial,
                "effective_time": to_rfc3339_beijing(effective),
                "expire_time": to_rfc3339_beijing(expire),
                "encrypt_certificate": {
                    "algorithm": ALGORITHM,
                    "nonce": nonce,
                    "associated_data": CERTIFICATE_AAD,
                    "ciphertext": ciphertext,
                },
            }
        )
    return json.dumps({"data": data}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
