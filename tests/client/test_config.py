"""Accounts and endpoints: validated once, secrets kept out of repr."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.client.config import (
    AppAccount,
    Endpoints,
    MerchantAccount,
    random_nonce,
    unix_time,
)
from paydesk.protocol.errors import KeyFormatError, UnsupportedSignatureType
from paydesk.protocol.v3.verify import KeySet
from tests.client.doubles import APIV3_KEY, PUBLIC_KEY_ID


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.mch.weixin.qq.com", "https://api.mch.weixin.qq.com/v3/certificates"),
        ("http://127.0.0.1:8000/sandbox/", "http://127.0.0.1:8000/sandbox/v3/certificates"),
    ],
)
def test_pay_urls_append_wechats_path(base: str, url: str) -> None:
    assert Endpoints(pay_base_url=base).pay_url("/v3/certificates") == url


def test_defaults_are_wechats_hosts_and_sandbox_uses_one_base() -> None:
    assert Endpoints().pay_url("/pay/orderquery") == "https://api.mch.weixin.qq.com/pay/orderquery"
    assert Endpoints().api_url("/cgi-bin/token") == "https://api.weixin.qq.com/cgi-bin/token"
    box = Endpoints.sandbox("http://sandbox.test")
    assert box.pay_base_url == box.api_base_url == "http://sandbox.test"


def account(key: RSAPrivateKey, **changes: object) -> MerchantAccount:
    fields: dict[str, object] = {
        "mchid": "1900000001",
        "serial_no": "5F1C",
        "private_key": key,
        "apiv3_key": APIV3_KEY,
        "verify_keys": KeySet({}),
        "v2_key": "v2-secret",
    }
    return MerchantAccount(**(fields | changes))  # type: ignore[arg-type]


def test_a_merchant_hides_its_secrets(merchant_key: RSAPrivateKey) -> None:
    text = repr(account(merchant_key))
    assert APIV3_KEY not in text
    assert "v2-secret" not in text
    assert "private_key" not in text
    assert "s3cret" not in repr(AppAccount("wx1", "s3cret"))


def test_the_mode_follows_the_public_key_id(merchant_key: RSAPrivateKey) -> None:
    assert account(merchant_key).mode == "certificate"
    assert account(merchant_key, public_key_id=PUBLIC_KEY_ID).mode == "public_key"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"apiv3_key": "short"}, KeyFormatError),
        ({"apiv3_key": "é" * 32}, KeyFormatError),  # 32 characters but 64 bytes
        ({"public_key_id": "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC"}, KeyFormatError),
        ({"v2_sign_type": "SHA1"}, UnsupportedSignatureType),
    ],
)
def test_a_merchant_with_a_malformed_secret_is_refused(
    merchant_key: RSAPrivateKey, changes: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        account(merchant_key, **changes)


def test_the_apiv3_key_is_counted_in_bytes(merchant_key: RSAPrivateKey) -> None:
    assert account(merchant_key, apiv3_key="é" * 16).apiv3_key == "é" * 16


def test_defaults_for_clock_and_nonce() -> None:
    assert abs(unix_time() - time.time()) < 2
    first, second = random_nonce(), random_nonce()
    assert first != second
    assert len(first) == 32
    assert first == first.upper()
    int(first, 16)  # hex
