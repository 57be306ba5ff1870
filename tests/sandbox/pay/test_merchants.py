"""Merchant keys: loaded once, matched to their credentials; app bindings."""

from __future__ import annotations

import pytest

from paydesk.protocol.keys import load_private_key, public_key_matches
from paydesk.sandbox.credentials import SandboxCredentials
from paydesk.sandbox.pay.merchants import Merchants, same_serial


def test_keys_are_the_credentials_and_are_cached(sandbox_credentials: SandboxCredentials) -> None:
    merchants = Merchants(sandbox_credentials)
    creds = sandbox_credentials.merchants[1]
    keys = merchants.require(creds.mchid)
    assert merchants.get(creds.mchid) is keys
    assert public_key_matches(
        load_private_key(creds.merchant_private_key_pem), keys.merchant_public_key
    )
    assert keys.platform_serial == creds.platform_certificate_serial
    assert keys.v2_key == creds.v2_key
    assert keys.mchid == creds.mchid


def test_unknown_merchants_and_apps(sandbox_credentials: SandboxCredentials) -> None:
    merchants = Merchants(sandbox_credentials)
    assert merchants.get("1") is None
    with pytest.raises(KeyError):
        merchants.require("1")
    assert merchants.bound("wx5a0d5a0d00000002", "1900000001")
    assert not merchants.bound("wx5a0d5a0d00000002", "1")
    assert not merchants.bound("wx_nope", "1900000001")
    assert merchants.app_type("wx5a0d5a0d00000002") == "official_account"
    assert merchants.app_type("wx_nope") is None


@pytest.mark.parametrize(("left", "right", "same"), [("0ABC", "abc", True), ("ABC", "ABD", False)])
def test_serials_compare_as_numbers(left: str, right: str, same: bool) -> None:
    assert same_serial(left, right) is same
