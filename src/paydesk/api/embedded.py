"""The embedded default: paydesk configured from its own sandbox's credentials.

``paydesk serve`` with no config file mounts the sandbox at ``/sandbox`` and uses it as
WeChat: every merchant and app of the sandbox becomes a configured merchant and app, so a
newcomer pays an order within minutes of cloning, with no account anywhere::

    config = config_from_sandbox(SandboxCredentials.generate(rsa_bits=1024))
    [m.mchid for m in config.merchants]   # ['1900000001', '1900000002']
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from paydesk.sandbox.credentials import SandboxCredentials
from paydesk.settings import AppConfig, MerchantConfig, PaydeskConfig
from paydesk.settings.config import ApiVersion, SignTypeV2


def config_from_sandbox(
    credentials: SandboxCredentials,
    *,
    api_versions: Mapping[str, ApiVersion] | None = None,
    v2_sign_type: SignTypeV2 = "HMAC-SHA256",
) -> PaydeskConfig:
    """A config whose merchants and apps are the sandbox's (v3 unless ``api_versions`` says v2)."""
    versions = api_versions or {}
    merchants = [
        MerchantConfig(
            mchid=m.mchid,
            name=f"Sandbox merchant {m.mchid} ({m.mode.replace('_', ' ')} mode)",
            api_version=versions.get(m.mchid, "v3"),
            serial_no=m.merchant_serial_no,
            private_key=SecretStr(m.merchant_private_key_pem),
            certificate=SecretStr(m.merchant_certificate_pem),
            apiv3_key=SecretStr(m.apiv3_key),
            platform_public_key_id=m.platform_public_key_id,
            platform_public_key=SecretStr(m.platform_public_key_pem)
            if m.platform_public_key_pem
            else None,
            platform_certificates=(SecretStr(m.platform_certificate_pem),)
            if m.platform_certificate_pem
            else (),
            v2_key=SecretStr(m.v2_key),
            v2_sign_type=v2_sign_type,
        )
        for m in credentials.merchants
    ]
    apps = [
        AppConfig(
            appid=a.appid,
            type=a.type,
            name="Sandbox mini program" if a.type == "miniprogram" else "Sandbox official account",
            secret=SecretStr(a.secret),
            push_token=SecretStr(a.push_token),
            encoding_aes_key=SecretStr(a.encoding_aes_key),
            push_mode="safe",
            virtual_pay_app_key=SecretStr(a.virtual_pay_app_key),
            virtual_pay_offer_id="1450000000",
            merchants=a.merchants,
        )
        for a in credentials.apps
    ]
    return PaydeskConfig(merchants=merchants, apps=apps)
