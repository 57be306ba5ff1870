"""The merchants' keys, loaded once: what the sandbox verifies, signs and encrypts with.

For each sandbox merchant: the merchant's public key (from its API certificate, to verify
``Authorization`` and ``paySign``), the platform private key and ``Wechatpay-Serial`` (to sign
answers and notifications), the APIv3 cipher and the APIv2 key. PEM parsing is slow next to a
signature check, so it happens on first use and never again.

    >>> Merchants(SandboxCredentials(merchants=(), apps=())).get("1900000001") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from paydesk.protocol.keys import certificate_public_key, load_certificate, load_private_key
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.sandbox.credentials import MerchantCredentials, SandboxCredentials

__all__ = ["MerchantKeys", "Merchants", "same_serial"]


def same_serial(left: str, right: str) -> bool:
    """Certificate serials compare as hex numbers: case and leading zeros do not matter.

    >>> same_serial("0abc", "ABC")
    True
    """
    return left.upper().lstrip("0") == right.upper().lstrip("0")


@dataclass(frozen=True)
class MerchantKeys:
    """One merchant's credentials with their keys parsed."""

    credentials: MerchantCredentials
    merchant_public_key: RSAPublicKey
    platform_key: RSAPrivateKey
    cipher: Apiv3Cipher

    @property
    def mchid(self) -> str:
        """The merchant id."""
        return self.credentials.mchid

    @property
    def platform_serial(self) -> str:
        """``Wechatpay-Serial`` of this merchant's answers: ``PUB_KEY_ID_…`` or a cert serial."""
        return self.credentials.platform_serial

    @property
    def v2_key(self) -> str:
        """The APIv2 key (MD5 / HMAC-SHA256 signatures, ``req_info``)."""
        return self.credentials.v2_key


class Merchants:
    """Lazy, cached :class:`MerchantKeys` by mchid, and app bindings."""

    def __init__(self, credentials: SandboxCredentials) -> None:
        self.credentials = credentials
        self._keys: dict[str, MerchantKeys] = {}

    def get(self, mchid: str) -> MerchantKeys | None:
        """The merchant's keys, or None for an mchid the sandbox does not have."""
        keys = self._keys.get(mchid)
        if keys is not None:
            return keys
        creds = self.credentials.merchant(mchid)
        if creds is None:
            return None
        keys = MerchantKeys(
            credentials=creds,
            merchant_public_key=certificate_public_key(
                load_certificate(creds.merchant_certificate_pem)
            ),
            platform_key=load_private_key(creds.platform_private_key_pem),
            cipher=Apiv3Cipher(creds.apiv3_key),
        )
        self._keys[mchid] = keys
        return keys

    def require(self, mchid: str) -> MerchantKeys:
        """The keys of a merchant that must exist (orders are only placed by known ones)."""
        keys = self.get(mchid)
        if keys is None:
            raise KeyError(mchid)
        return keys

    def bound(self, appid: str, mchid: str) -> bool:
        """True when ``appid`` is a sandbox app bound to merchant ``mchid``."""
        app = self.credentials.app(appid)
        return app is not None and mchid in app.merchants

    def app_type(self, appid: str) -> str | None:
        """``miniprogram`` or ``official_account`` (None for an unknown appid)."""
        app = self.credentials.app(appid)
        return app.type if app is not None else None
