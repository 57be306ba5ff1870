"""Merchant-side helpers for the Pay tests: signed v3 calls, signed v2 calls, quick orders.

``V3Merchant`` signs every request with protocol ``build_authorization`` (through
``tests/sandbox/signing.py``) and verifies every
2xx answer with protocol ``verify_signed`` against the platform key or certificate the
credentials publish — so every test that gets a 2xx also proves the answer's signature.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from paydesk.protocol.keys import load_certificate, load_public_key
from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
from paydesk.protocol.v2.sign import SignType, verify_v2
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.notify import OpenedNotification, open_notification
from paydesk.protocol.v3.verify import KeySet, verify_signed
from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import (
    DEFAULT_MINIPROGRAM_APPID,
    MerchantCredentials,
    SandboxCredentials,
)
from tests.sandbox.signing import v3_authorization

MINI = DEFAULT_MINIPROGRAM_APPID
NOTIFY_URL = "http://merchant.test/notify/v3"
V2_NOTIFY_URL = "http://merchant.test/notify/v2"


def platform_keys(merchant: MerchantCredentials) -> KeySet:
    """The keys a merchant verifies the sandbox with, from the published credentials only."""
    if merchant.mode == "public_key":
        assert merchant.platform_public_key_id
        assert merchant.platform_public_key_pem
        return KeySet.from_public_key(
            merchant.platform_public_key_id, load_public_key(merchant.platform_public_key_pem)
        )
    assert merchant.platform_certificate_pem
    return KeySet.from_certificates([load_certificate(merchant.platform_certificate_pem)])


def open_v3(merchant: MerchantCredentials, received: dict[str, Any]) -> OpenedNotification:
    """Open a notification the receiver recorded, as a merchant would."""
    return open_notification(
        received["headers"],
        received["body"],
        platform_keys(merchant),
        Apiv3Cipher(merchant.apiv3_key),
        now=int(time.time()),
    )


@dataclass(frozen=True)
class Helpers:
    """Module-level helpers, handed to tests as the ``helpers`` fixture (importlib mode)."""

    platform_keys = staticmethod(platform_keys)
    open_v3 = staticmethod(open_v3)
    NOTIFY_URL = NOTIFY_URL
    V2_NOTIFY_URL = V2_NOTIFY_URL
    MINI = MINI


@dataclass
class V3Merchant:
    """A merchant's v3 client against the in-process sandbox."""

    client: httpx.AsyncClient
    creds: MerchantCredentials
    nonce_counter: int = 0

    @property
    def mchid(self) -> str:
        return self.creds.mchid

    def authorization(
        self, method: str, url: str, body: bytes, *, timestamp: int | None = None
    ) -> str:
        self.nonce_counter += 1
        nonce = f"NONCE{self.nonce_counter:06d}"
        return v3_authorization(self.creds, method, url, body, nonce=nonce, timestamp=timestamp)

    async def call(
        self, method: str, url: str, data: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        body = b"" if data is None else json.dumps(data).encode()
        sent = {
            "Authorization": self.authorization(method, url, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
            **headers,
        }
        response = await self.client.request(method, url, content=body, headers=sent)
        if 200 <= response.status_code < 300:
            verify_signed(
                response.headers, response.content, platform_keys(self.creds), now=int(time.time())
            )
        else:
            assert not any(h.lower().startswith("wechatpay-") for h in response.headers)
        return response

    def order(self, out_trade_no: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appid": MINI,
            "mchid": self.mchid,
            "description": "沙箱测试商品",
            "out_trade_no": out_trade_no,
            "notify_url": NOTIFY_URL,
            "amount": {"total": 100, "currency": "CNY"},
        }
        return body | extra

    async def prepay(
        self, out_trade_no: str, channel: str = "jsapi", **extra: Any
    ) -> httpx.Response:
        if channel == "jsapi":
            extra.setdefault("payer", {"openid": "oPAYER000000000000000000001"})
        if channel == "h5":
            extra.setdefault(
                "scene_info", {"payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}}
            )
        return await self.call(
            "POST", f"/v3/pay/transactions/{channel}", self.order(out_trade_no, **extra)
        )

    async def pay(self, **body: Any) -> httpx.Response:
        """``POST /_sandbox/pay`` (the payer; not signed)."""
        return await self.client.post("/_sandbox/pay", json=body)

    async def paid(self, out_trade_no: str, channel: str = "jsapi", **extra: Any) -> dict[str, Any]:
        """Prepay and pay; the payer's answer."""
        prepay = (await self.prepay(out_trade_no, channel, **extra)).json()
        if channel == "native":
            return (await self.pay(code_url=prepay["code_url"])).json()
        if channel == "h5":
            return (await self.pay(h5_url=prepay["h5_url"])).json()
        return (await self.pay(prepay_id=prepay["prepay_id"])).json()

    async def query(self, out_trade_no: str) -> httpx.Response:
        return await self.call(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.mchid}"
        )


@dataclass
class V2Merchant:
    """A merchant's v2 client against the in-process sandbox."""

    client: httpx.AsyncClient
    creds: MerchantCredentials
    sign_type: SignType = "MD5"

    async def call(self, path: str, fields: dict[str, str | int]) -> dict[str, str]:
        params: dict[str, str | int] = {
            "appid": MINI,
            "mch_id": self.creds.mchid,
            "nonce_str": "n0nce",
            **fields,
        }
        if self.sign_type != "MD5":
            params["sign_type"] = self.sign_type
        body = signed_xml(params, key=self.creds.v2_key, sign_type=self.sign_type)
        response = await self.client.post(path, content=body.encode())
        assert response.status_code == 200
        answer = parse_v2_fields(response.content)
        if answer["return_code"] == "SUCCESS":
            verify_v2(answer, self.creds.v2_key, self.sign_type)
        return answer

    async def unifiedorder(self, out_trade_no: str, **fields: str | int) -> dict[str, str]:
        base: dict[str, str | int] = {
            "body": "沙箱v2商品",
            "out_trade_no": out_trade_no,
            "total_fee": 100,
            "spbill_create_ip": "203.0.113.9",
            "notify_url": V2_NOTIFY_URL,
            "trade_type": "JSAPI",
            "openid": "oPAYER000000000000000000002",
        }
        return await self.call("/pay/unifiedorder", base | fields)


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()


@pytest.fixture
def pk_merchant(sandbox_credentials: SandboxCredentials) -> MerchantCredentials:
    """The public-key-mode merchant (1900000001)."""
    return sandbox_credentials.merchants[0]


@pytest.fixture
def cert_merchant(sandbox_credentials: SandboxCredentials) -> MerchantCredentials:
    """The certificate-mode merchant (1900000002)."""
    return sandbox_credentials.merchants[1]


@pytest.fixture
def v3(sandbox_client: httpx.AsyncClient, pk_merchant: MerchantCredentials) -> V3Merchant:
    return V3Merchant(sandbox_client, pk_merchant)


@pytest.fixture
def v3_cert(sandbox_client: httpx.AsyncClient, cert_merchant: MerchantCredentials) -> V3Merchant:
    return V3Merchant(sandbox_client, cert_merchant)


@pytest.fixture
def v2(sandbox_client: httpx.AsyncClient, pk_merchant: MerchantCredentials) -> V2Merchant:
    return V2Merchant(sandbox_client, pk_merchant)


@pytest.fixture
def v2_hmac(sandbox_client: httpx.AsyncClient, cert_merchant: MerchantCredentials) -> V2Merchant:
    return V2Merchant(sandbox_client, cert_merchant, "HMAC-SHA256")


@pytest.fixture
async def paid_order(v3: V3Merchant, sandbox: Sandbox) -> dict[str, Any]:
    """A paid v3 JSAPI order T_PAID001 whose notification was delivered."""
    paid = await v3.paid("T_PAID001")
    await sandbox.pay.drain(5)
    return paid
