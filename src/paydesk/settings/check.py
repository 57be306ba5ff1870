"""``paydesk config check``: what can be validated offline, as a list of findings.

Checks each merchant's private key ↔ serial (when its API certificate is given), the APIv3 key's
length, the public-key id's format, the platform certificates' validity, the v2 key, and each
app's binding and push keys; the notify URL must be https with no query string in production::

    >>> from paydesk.settings import Settings, PaydeskConfig
    >>> [f.level for f in check_config(Settings(), PaydeskConfig())]
    ['warn']
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.protocol import errors, keys
from paydesk.settings import Settings
from paydesk.settings.config import AppConfig, MerchantConfig, PaydeskConfig

Level = Literal["ok", "warn", "error"]


@dataclass(frozen=True)
class Finding:
    """One line of the check: its level, what it is about, and what to do."""

    level: Level
    subject: str
    message: str


def check_config(
    settings: Settings, config: PaydeskConfig, *, now: datetime | None = None
) -> list[Finding]:
    """Every finding for these settings and this config (errors first is the caller's choice)."""
    findings = _check_public_url(settings)
    if not config.merchants:
        findings.append(Finding("warn", "config", "no merchants configured"))
    for merchant in config.merchants:
        findings.extend(_check_merchant(merchant, now))
    for app in config.apps:
        findings.extend(_check_app(app, config))
    return findings


def _check_public_url(settings: Settings) -> list[Finding]:
    notify = urlsplit(settings.public_url)
    if settings.environment == "production" and notify.scheme != "https":
        return [
            Finding(
                "error",
                "public_url",
                "WeChat only notifies https URLs: set PAYDESK_PUBLIC_URL to your https origin",
            )
        ]
    if notify.query:
        return [Finding("error", "public_url", "WeChat refuses notify URLs with a query string")]
    return []


def _check_merchant(m: MerchantConfig, now: datetime | None) -> list[Finding]:
    subject = f"merchant {m.mchid}"
    out: list[Finding] = []
    if m.notify_base_url and urlsplit(m.notify_base_url).query:
        out.append(Finding("error", subject, "notify_base_url must not have a query string"))
    if m.api_version == "v2" or m.v2_key is not None:
        key = m.v2_key.get_secret_value() if m.v2_key else ""
        if len(key) != 32:
            out.append(Finding("error", subject, f"v2_key must be 32 characters (got {len(key)})"))
    if m.api_version == "v2":
        return out or [Finding("ok", subject, f"API v2 with {m.v2_sign_type} signatures")]
    out.extend(_check_v3_keys(m, subject, now))
    return out


def _check_v3_keys(m: MerchantConfig, subject: str, now: datetime | None) -> list[Finding]:
    out: list[Finding] = []
    apiv3 = m.apiv3_key.get_secret_value().encode() if m.apiv3_key else b""
    if len(apiv3) != 32:
        out.append(Finding("error", subject, f"apiv3_key must be 32 bytes (got {len(apiv3)})"))
    if not m.serial_no:
        out.append(Finding("error", subject, "serial_no (merchant API certificate serial) missing"))
    private = None
    if m.private_key is None:
        out.append(Finding("error", subject, "private_key (apiclient_key.pem) missing"))
    else:
        try:
            private = keys.load_private_key(m.private_key.get_secret_value())
        except errors.KeyFormatError as exc:
            out.append(Finding("error", subject, f"private_key: {exc}"))
    if m.certificate is not None and private is not None:
        out.extend(
            _check_merchant_certificate(m.certificate.get_secret_value(), m, subject, private)
        )
    has_public = m.platform_public_key_id is not None or m.platform_public_key is not None
    if has_public:
        out.extend(_check_public_key(m, subject))
    for pem in m.platform_certificates:
        out.extend(_check_platform_certificate(pem.get_secret_value(), subject, now))
    if not has_public and not m.platform_certificates:
        out.append(
            Finding(
                "error",
                subject,
                "no verification key: give platform_public_key_id "
                "+ platform_public_key, or platform_certificates",
            )
        )
    if not out:
        mode = "public key" if has_public else "platform certificates"
        out.append(Finding("ok", subject, f"API v3 keys consistent ({mode})"))
    return out


def _check_merchant_certificate(
    pem: str, m: MerchantConfig, subject: str, private: RSAPrivateKey
) -> list[Finding]:
    try:
        cert = keys.load_certificate(pem)
    except errors.KeyFormatError as exc:
        return [Finding("error", subject, f"certificate: {exc}")]
    out = []
    if m.serial_no and keys.certificate_serial(cert).upper() != m.serial_no.upper():
        out.append(
            Finding(
                "error",
                subject,
                f"serial_no {m.serial_no} is not the certificate's "
                f"serial {keys.certificate_serial(cert)}",
            )
        )
    if not keys.public_key_matches(private, keys.certificate_public_key(cert)):
        out.append(Finding("error", subject, "private_key does not belong to the certificate"))
    return out


def _check_public_key(m: MerchantConfig, subject: str) -> list[Finding]:
    if m.platform_public_key_id is None or m.platform_public_key is None:
        return [
            Finding("error", subject, "platform_public_key_id and platform_public_key go together")
        ]
    out = []
    if not keys.is_public_key_id(m.platform_public_key_id):
        out.append(
            Finding(
                "error",
                subject,
                "platform_public_key_id must look like "
                "PUB_KEY_ID_ followed by digits (keep the prefix)",
            )
        )
    try:
        keys.load_public_key(m.platform_public_key.get_secret_value())
    except errors.KeyFormatError as exc:
        out.append(Finding("error", subject, f"platform_public_key: {exc}"))
    return out


def _check_platform_certificate(pem: str, subject: str, now: datetime | None) -> list[Finding]:
    try:
        cert = keys.load_certificate(pem)
    except errors.KeyFormatError as exc:
        return [Finding("error", subject, f"platform certificate: {exc}")]
    if now is not None and not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return [
            Finding(
                "error",
                subject,
                f"platform certificate {keys.certificate_serial(cert)} is not valid now",
            )
        ]
    return []


def _check_app(app: AppConfig, config: PaydeskConfig) -> list[Finding]:
    subject = f"app {app.appid}"
    out = [
        Finding("error", subject, f"bound to unknown merchant {mchid}")
        for mchid in app.merchants
        if config.merchant(mchid) is None
    ]
    if app.encoding_aes_key is not None:
        raw = app.encoding_aes_key.get_secret_value()
        try:
            ok = len(raw) == 43 and len(base64.b64decode(raw + "=")) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            out.append(
                Finding(
                    "error",
                    subject,
                    "encoding_aes_key must be the 43-character "
                    "EncodingAESKey from the WeChat console",
                )
            )
    if app.push_mode != "plain" and app.push_token is not None and app.encoding_aes_key is None:
        out.append(Finding("error", subject, f"push_mode {app.push_mode} needs encoding_aes_key"))
    return out or [Finding("ok", subject, f"{app.type} bound to {', '.join(app.merchants)}")]
