"""The sandbox's merchants and apps, with keys created on first start and kept in a data dir.

Out of the box: two merchants — one in WeChat Pay public-key mode (``PUB_KEY_ID_…``), one in
platform-certificate mode — and one mini program and one official account, both bound to both
merchants. ``GET /_sandbox/credentials`` hands all of it to the merchant's code::

    >>> creds = SandboxCredentials.generate(rsa_bits=1024)  # small keys keep the doctest fast
    >>> [m.mode for m in creds.merchants]
    ['public_key', 'certificate']
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paydesk.protocol import keys

MerchantMode = Literal["public_key", "certificate"]
AppType = Literal["miniprogram", "official_account"]

CREDENTIALS_FILE = "sandbox-credentials.json"
DEFAULT_MCHIDS = ("1900000001", "1900000002")
DEFAULT_MINIPROGRAM_APPID = "wx5a0d5a0d00000001"
DEFAULT_OFFICIAL_ACCOUNT_APPID = "wx5a0d5a0d00000002"


def _token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class MerchantCredentials:
    """One sandbox merchant: what WeChat gives a merchant, plus the sandbox's platform keys.

    ``platform_private_key_pem`` is the sandbox's own secret; it is never served.
    """

    mchid: str
    mode: MerchantMode
    apiv3_key: str
    v2_key: str
    merchant_serial_no: str
    merchant_private_key_pem: str
    merchant_certificate_pem: str
    platform_private_key_pem: str
    platform_public_key_id: str | None
    platform_public_key_pem: str | None
    platform_certificate_pem: str | None
    platform_certificate_serial: str | None

    @property
    def platform_serial(self) -> str:
        """The ``Wechatpay-Serial`` this merchant's responses and notifications carry."""
        if self.mode == "public_key":
            return self.platform_public_key_id or ""
        return self.platform_certificate_serial or ""

    def public_view(self) -> dict[str, Any]:
        """What ``GET /_sandbox/credentials`` shows for this merchant (no sandbox secrets)."""
        view = asdict(self)
        view.pop("platform_private_key_pem")
        return view


@dataclass(frozen=True)
class AppCredentials:
    """One sandbox app (mini program or official account) and the merchants it is bound to."""

    appid: str
    type: AppType
    secret: str
    push_token: str
    encoding_aes_key: str
    virtual_pay_app_key: str
    merchants: tuple[str, ...] = field(default_factory=tuple)

    def public_view(self) -> dict[str, Any]:
        """What ``GET /_sandbox/credentials`` shows for this app."""
        view = asdict(self)
        view["merchants"] = list(self.merchants)
        return view


@dataclass(frozen=True)
class SandboxCredentials:
    """All merchants and apps of one sandbox."""

    merchants: tuple[MerchantCredentials, ...]
    apps: tuple[AppCredentials, ...]

    def merchant(self, mchid: str) -> MerchantCredentials | None:
        """The merchant with this mchid, if the sandbox has one."""
        return next((m for m in self.merchants if m.mchid == mchid), None)

    def app(self, appid: str) -> AppCredentials | None:
        """The app with this appid, if the sandbox has one."""
        return next((a for a in self.apps if a.appid == appid), None)

    def public_view(self) -> dict[str, Any]:
        """The JSON document of ``GET /_sandbox/credentials``."""
        return {
            "merchants": [m.public_view() for m in self.merchants],
            "apps": [a.public_view() for a in self.apps],
        }

    @classmethod
    def generate(cls, *, rsa_bits: int = 2048, now: datetime | None = None) -> SandboxCredentials:
        """Fresh keys and secrets for the default two merchants and two apps."""
        issued = now or datetime.now(UTC)
        merchants = tuple(
            _new_merchant(mchid, mode, rsa_bits, issued)
            for mchid, mode in zip(DEFAULT_MCHIDS, ("public_key", "certificate"), strict=True)
        )
        bound = tuple(m.mchid for m in merchants)
        apps = tuple(
            AppCredentials(
                appid=appid,
                type=app_type,
                secret=secrets.token_hex(16),
                push_token=_token(32),
                encoding_aes_key=base64.b64encode(secrets.token_bytes(32)).decode()[:43],
                virtual_pay_app_key=_token(32),
                merchants=bound,
            )
            for appid, app_type in (
                (DEFAULT_MINIPROGRAM_APPID, "miniprogram"),
                (DEFAULT_OFFICIAL_ACCOUNT_APPID, "official_account"),
            )
        )
        return cls(merchants=merchants, apps=apps)

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SandboxCredentials:
        """Read the credentials kept in ``data_dir``, creating them on first start."""
        path = data_dir / CREDENTIALS_FILE
        if path.exists():
            return cls.from_json(json.loads(path.read_text("utf-8")))
        creds = cls.generate()
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(creds.to_json(), indent=1), "utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        return creds

    def to_json(self) -> dict[str, Any]:
        """Everything, secrets included, for the data-dir file."""
        return {
            "merchants": [asdict(m) for m in self.merchants],
            "apps": [a.public_view() for a in self.apps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxCredentials:
        """The inverse of :meth:`to_json`."""
        return cls(
            merchants=tuple(MerchantCredentials(**m) for m in data["merchants"]),
            apps=tuple(
                AppCredentials(**{**a, "merchants": tuple(a["merchants"])}) for a in data["apps"]
            ),
        )


def _new_merchant(
    mchid: str, mode: MerchantMode, rsa_bits: int, issued: datetime
) -> MerchantCredentials:
    merchant_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    platform_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    merchant_cert = keys.make_self_signed_certificate(
        merchant_key,
        serial_number=secrets.randbits(159) | (1 << 158),
        common_name=f"{mchid} sandbox merchant",
        not_before=issued - timedelta(days=1),
        not_after=issued + timedelta(days=5 * 365),
    )
    platform_public_key_id = platform_public_key_pem = None
    platform_certificate_pem = platform_certificate_serial = None
    if mode == "public_key":
        platform_public_key_id = "PUB_KEY_ID_" + "".join(
            secrets.choice(string.digits) for _ in range(34)
        )
        platform_public_key_pem = keys.public_key_pem(platform_key.public_key())
    else:
        platform_cert = keys.make_self_signed_certificate(
            platform_key,
            serial_number=secrets.randbits(159) | (1 << 158),
            common_name="Tenpay.com Sandbox Platform",
            not_before=issued - timedelta(days=1),
            not_after=issued + timedelta(days=5 * 365),
        )
        platform_certificate_pem = _pem(platform_cert)
        platform_certificate_serial = keys.certificate_serial(platform_cert)
    return MerchantCredentials(
        mchid=mchid,
        mode=mode,
        apiv3_key=_token(32),
        v2_key=_token(32),
        merchant_serial_no=keys.certificate_serial(merchant_cert),
        merchant_private_key_pem=keys.private_key_pem(merchant_key),
        merchant_certificate_pem=_pem(merchant_cert),
        platform_private_key_pem=keys.private_key_pem(platform_key),
        platform_public_key_id=platform_public_key_id,
        platform_public_key_pem=platform_public_key_pem,
        platform_certificate_pem=platform_certificate_pem,
        platform_certificate_serial=platform_certificate_serial,
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
