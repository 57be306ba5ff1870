"""Client fixtures: keys made once per run, merchant accounts in both key modes, the
WeChat Pay and api.weixin.qq.com doubles of :mod:`tests.client.doubles`, a recording ``sleep``,
pinned nonces, and a :class:`PayV3Client` on each double."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.client.config import Endpoints, MerchantAccount
from paydesk.client.pay_v3 import PayV3Client
from paydesk.protocol.keys import certificate_serial, make_self_signed_certificate
from paydesk.protocol.v3.verify import KeySet
from tests.client.doubles import (
    APIV3_KEY,
    BASE,
    MERCHANT_SERIAL,
    NOW,
    PUBLIC_KEY_ID,
    V2_KEY,
    PayDouble,
    Upstream,
)


def _rsa() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def merchant_key() -> RSAPrivateKey:
    return _rsa()


@pytest.fixture(scope="session")
def platform_key() -> RSAPrivateKey:
    return _rsa()


@pytest.fixture(scope="session")
def platform_cert(platform_key: RSAPrivateKey) -> x509.Certificate:
    issued = datetime(2023, 1, 1, tzinfo=UTC)
    return make_self_signed_certificate(
        platform_key,
        serial_number=0x3A1B2C3D4E5F60718293A4B5C6D7E8F901234567,
        common_name="Tenpay.com test platform",
        not_before=issued,
        not_after=issued + timedelta(days=3650),
    )


@pytest.fixture
def account(merchant_key: RSAPrivateKey, platform_key: RSAPrivateKey) -> MerchantAccount:
    """A merchant in public-key mode, with an HMAC-SHA256 v2 key."""
    return MerchantAccount(
        mchid="1900000001",
        serial_no=MERCHANT_SERIAL,
        private_key=merchant_key,
        apiv3_key=APIV3_KEY,
        verify_keys=KeySet.from_public_key(PUBLIC_KEY_ID, platform_key.public_key()),
        public_key_id=PUBLIC_KEY_ID,
        v2_key=V2_KEY,
        v2_sign_type="HMAC-SHA256",
    )


@pytest.fixture
def cert_account(merchant_key: RSAPrivateKey) -> MerchantAccount:
    """A merchant in certificate mode that holds no platform certificate yet."""
    return MerchantAccount(
        mchid="1900000002",
        serial_no=MERCHANT_SERIAL,
        private_key=merchant_key,
        apiv3_key=APIV3_KEY,
        verify_keys=KeySet({}),
    )


@pytest.fixture
def pay_double(merchant_key: RSAPrivateKey, platform_key: RSAPrivateKey) -> PayDouble:
    """The double for the public-key merchant."""
    return PayDouble(merchant_key, platform_key, PUBLIC_KEY_ID)


@pytest.fixture
def cert_double(
    merchant_key: RSAPrivateKey, platform_key: RSAPrivateKey, platform_cert: x509.Certificate
) -> PayDouble:
    """The double for the certificate-mode merchant: signs with the platform certificate."""
    return PayDouble(merchant_key, platform_key, certificate_serial(platform_cert))


@pytest.fixture
def sleeps() -> list[float]:
    """Every backoff the client asked for, in order."""
    return []


@pytest.fixture
def sleep(sleeps: list[float]) -> Callable[[float], Awaitable[None]]:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    return record


@pytest.fixture
def nonces() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"NONCE{next(counter):04d}"


@pytest.fixture
def endpoints() -> Endpoints:
    return Endpoints.sandbox(BASE)


@pytest.fixture
async def mock_http(pay_double: PayDouble) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(pay_double)) as http:
        yield http


@pytest.fixture
async def cert_http(cert_double: PayDouble) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(cert_double)) as http:
        yield http


@pytest.fixture
def upstream() -> Upstream:
    """api.weixin.qq.com's double: script its ``answers``, read its ``requests``."""
    return Upstream()


@pytest.fixture
async def upstream_http(upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose every request reaches ``upstream``."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as http:
        yield http


@pytest.fixture
def client(
    account: MerchantAccount,
    endpoints: Endpoints,
    mock_http: httpx.AsyncClient,
    nonces: Callable[[], str],
    sleep: Callable[[float], Awaitable[None]],
) -> PayV3Client:
    """A public-key-mode :class:`PayV3Client` on ``pay_double``, at the doubles' ``NOW``."""
    return PayV3Client(
        account, endpoints=endpoints, http=mock_http, clock=lambda: NOW, nonce=nonces, sleep=sleep
    )


@pytest.fixture
def cert_client(
    cert_account: MerchantAccount,
    endpoints: Endpoints,
    cert_http: httpx.AsyncClient,
    nonces: Callable[[], str],
    sleep: Callable[[float], Awaitable[None]],
) -> PayV3Client:
    """A certificate-mode :class:`PayV3Client` on ``cert_double``, at the doubles' ``NOW``."""
    return PayV3Client(
        cert_account,
        endpoints=endpoints,
        http=cert_http,
        clock=lambda: NOW,
        nonce=nonces,
        sleep=sleep,
    )
