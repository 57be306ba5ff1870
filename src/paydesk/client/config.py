"""What the client needs to know about a merchant, an app and WeChat's hosts: frozen values.

The service builds these from its settings; the client never reads settings, files or the
environment itself. Secrets stay out of ``repr`` so a logged account leaks nothing.

>>> Endpoints.sandbox("http://127.0.0.1:8000/sandbox/").pay_url("/v3/certificates")
'http://127.0.0.1:8000/sandbox/v3/certificates'
>>> AppAccount("wx5a0d5a0d00000001", "s3cret")
AppAccount(appid='wx5a0d5a0d00000001')
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.protocol.errors import KeyFormatError
from paydesk.protocol.keys import is_public_key_id
from paydesk.protocol.v2.sign import SignType, check_sign_type
from paydesk.protocol.v3.endpoints import API_HOST
from paydesk.protocol.v3.verify import KeySet

__all__ = [
    "OPEN_API_HOST",
    "AppAccount",
    "Clock",
    "Endpoints",
    "MerchantAccount",
    "NonceSource",
    "random_nonce",
    "unix_time",
]

#: Host of the mini program / official account APIs (PROTOCOL.md §4).
OPEN_API_HOST = "https://api.weixin.qq.com"

#: Unix seconds now; injected so tests and the sandbox can pin time.
Clock = Callable[[], int]
#: A fresh request nonce; injected so tests can pin it.
NonceSource = Callable[[], str]

_APIV3_KEY_BYTES = 32


def unix_time() -> int:
    """The default :data:`Clock`: the system's wall clock in whole seconds.

    >>> unix_time() > 1_700_000_000
    True
    """
    return int(time.time())


def random_nonce() -> str:
    """The default :data:`NonceSource`: 32 uppercase hex characters (128 random bits).

    >>> len(random_nonce()), random_nonce().isupper()
    (32, True)
    """
    return secrets.token_hex(16).upper()


@dataclass(frozen=True)
class MerchantAccount:
    """One WeChat Pay merchant as the client uses it.

    ``serial_no`` names the merchant's API certificate (it goes into ``Authorization``);
    ``verify_keys`` are WeChat Pay's keys for this merchant — the public key (public-key mode,
    ``public_key_id`` set) or the platform certificates (certificate mode), or both during a
    migration. ``v2_key`` and ``v2_sign_type`` are only needed for Pay v2.

    >>> from cryptography.hazmat.primitives.asymmetric import rsa
    >>> key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    >>> MerchantAccount("1900000002", "5F1C", key, "k" * 32, KeySet({}))
    MerchantAccount(mchid='1900000002', serial_no='5F1C', public_key_id=None, v2_sign_type='MD5')
    """

    mchid: str
    serial_no: str
    private_key: RSAPrivateKey = field(repr=False)
    apiv3_key: str = field(repr=False)
    verify_keys: KeySet = field(repr=False)
    public_key_id: str | None = None
    v2_key: str | None = field(default=None, repr=False)
    v2_sign_type: SignType = "MD5"

    def __post_init__(self) -> None:
        if len(self.apiv3_key.encode("utf-8")) != _APIV3_KEY_BYTES:
            raise KeyFormatError(f"the APIv3 key of {self.mchid} must be 32 bytes")
        if self.public_key_id is not None and not is_public_key_id(self.public_key_id):
            raise KeyFormatError(f"{self.public_key_id!r} is not a PUB_KEY_ID_ public-key id")
        check_sign_type(self.v2_sign_type)

    @property
    def mode(self) -> Literal["public_key", "certificate"]:
        """``public_key`` when WeChat Pay signs with its public key (PROTOCOL.md §1.5)."""
        return "public_key" if self.public_key_id is not None else "certificate"


@dataclass(frozen=True)
class AppAccount:
    """A mini program, official account or other app: ``appid`` and its ``AppSecret``.

    >>> AppAccount("wx1", "secret").appid
    'wx1'
    """

    appid: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of WeChat Pay and of the open APIs.

    With the sandbox both are its base URL, which may carry a path prefix
    (``http://host/sandbox``): WeChat's path is appended to it, and only WeChat's path and
    query are signed.

    >>> Endpoints().api_url("/sns/jscode2session")
    'https://api.weixin.qq.com/sns/jscode2session'
    """

    pay_base_url: str = API_HOST
    api_base_url: str = OPEN_API_HOST

    @classmethod
    def sandbox(cls, base_url: str) -> Endpoints:
        """Both hosts served by one sandbox at ``base_url``."""
        return cls(pay_base_url=base_url, api_base_url=base_url)

    def pay_url(self, path: str) -> str:
        """The absolute URL of a WeChat Pay path (``/v3/…`` or ``/pay/…``)."""
        return self.pay_base_url.rstrip("/") + path

    def api_url(self, path: str) -> str:
        """The absolute URL of an open-API path (``/sns/…``, ``/cgi-bin/…``)."""
        return self.api_base_url.rstrip("/") + path
