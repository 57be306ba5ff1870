"""Turn configured merchants and apps into the client's accounts, loading every key once.

A merchant's verification keys are its WeChat Pay public key (``PUB_KEY_ID_…``) and/or its
platform certificates — both during a migration — chosen later by ``Wechatpay-Serial``.
"""

from __future__ import annotations

from paydesk.client import AppAccount, MerchantAccount
from paydesk.domain.errors import InvalidInput
from paydesk.protocol import errors, keys
from paydesk.protocol.v3.verify import KeySet
from paydesk.settings import AppConfig, MerchantConfig, PaydeskConfig


def merchant_account(merchant: MerchantConfig) -> MerchantAccount:
    """The client account of one merchant; InvalidInput naming what is missing or malformed."""
    private_key, apiv3_key, serial_no = merchant.private_key, merchant.apiv3_key, merchant.serial_no
    if private_key is None or apiv3_key is None or not serial_no:
        missing = [
            name
            for name, value in (
                ("serial_no", serial_no),
                ("private_key", private_key),
                ("apiv3_key", apiv3_key),
            )
            if not value
        ]
        raise InvalidInput(
            "merchant_config",
            f"merchant {merchant.mchid} lacks {', '.join(missing)} (see paydesk config check)",
        )
    try:
        sets = []
        if merchant.platform_public_key_id and merchant.platform_public_key:
            sets.append(
                KeySet.from_public_key(
                    merchant.platform_public_key_id,
                    keys.load_public_key(merchant.platform_public_key.get_secret_value()),
                )
            )
        certificates = [
            keys.load_certificate(pem.get_secret_value()) for pem in merchant.platform_certificates
        ]
        if certificates:
            sets.append(KeySet.from_certificates(certificates))
        return MerchantAccount(
            mchid=merchant.mchid,
            serial_no=serial_no,
            private_key=keys.load_private_key(private_key.get_secret_value()),
            apiv3_key=apiv3_key.get_secret_value(),
            verify_keys=KeySet.merge(*sets),
            public_key_id=merchant.platform_public_key_id,
            v2_key=merchant.v2_key.get_secret_value() if merchant.v2_key else None,
            v2_sign_type=merchant.v2_sign_type,
        )
    except errors.ProtocolError as exc:
        raise InvalidInput(
            "merchant_config", f"merchant {merchant.mchid}: {exc} (see paydesk config check)"
        ) from exc


def app_account(app: AppConfig) -> AppAccount:
    """The client account of one app."""
    return AppAccount(app.appid, app.secret.get_secret_value())


def accounts(config: PaydeskConfig) -> tuple[list[MerchantAccount], list[AppAccount]]:
    """Every merchant's and app's client account."""
    return [merchant_account(m) for m in config.merchants], [app_account(a) for a in config.apps]
