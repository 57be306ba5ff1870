"""The merchants and apps paydesk serves, from a TOML file (``PAYDESK_CONFIG_FILE``).

    [[merchants]]
    mchid = "1900000001"
    serial_no = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
    private_key = { file = "apiclient_key.pem" }
    apiv3_key = { env = "MCH1_APIV3_KEY" }
    platform_public_key_id = "PUB_KEY_ID_0000000000000024101100397200000006"
    platform_public_key = { file = "pub_key.pem" }

    [[apps]]
    appid = "wx5a0d5a0d00000001"
    type = "miniprogram"
    secret = { env = "MINI_SECRET" }
    merchants = ["1900000001"]

Secrets may be inline, ``{file = …}`` or ``{env = …}`` (see :mod:`paydesk.settings.secrets`)::

    >>> cfg = PaydeskConfig.model_validate({"merchants": [], "apps": []})
    >>> cfg.merchants
    []
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from paydesk.settings.secrets import SecretError, resolve_secret

ApiVersion = Literal["v3", "v2"]
SignTypeV2 = Literal["MD5", "HMAC-SHA256"]
AppType = Literal["miniprogram", "official_account", "web", "app"]
PushMode = Literal["plain", "compatible", "safe"]


def _secret(value: Any, info: ValidationInfo) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    base_dir = (info.context or {}).get("base_dir")
    try:
        return resolve_secret(value, field=info.field_name or "secret", base_dir=base_dir)
    except SecretError as exc:
        raise ValueError(str(exc)) from exc


class MerchantConfig(BaseModel):
    """One WeChat Pay merchant (mchid) and its keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mchid: str = Field(pattern=r"^\d{6,32}$")
    name: str = ""
    api_version: ApiVersion = "v3"
    serial_no: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{1,64}$")
    private_key: SecretStr | None = None
    certificate: SecretStr | None = None
    apiv3_key: SecretStr | None = None
    platform_public_key_id: str | None = None
    platform_public_key: SecretStr | None = None
    platform_certificates: tuple[SecretStr, ...] = ()
    v2_key: SecretStr | None = None
    v2_sign_type: SignTypeV2 = "HMAC-SHA256"
    notify_base_url: str | None = None
    auto_refund_anomalies: bool = False

    _resolve = field_validator(
        "private_key", "certificate", "apiv3_key", "platform_public_key", "v2_key", mode="before"
    )(_secret)

    @field_validator("platform_certificates", mode="before")
    @classmethod
    def _resolve_list(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_secret(item, info) for item in value)
        return value


class AppConfig(BaseModel):
    """One app (mini program, official account, web or native app) and its bound merchants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    appid: str = Field(pattern=r"^wx[0-9a-zA-Z]{16}$")
    type: AppType
    name: str = ""
    secret: SecretStr
    original_id: str | None = None
    push_token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    push_mode: PushMode = "safe"
    virtual_pay_app_key: SecretStr | None = None
    virtual_pay_offer_id: str | None = None
    merchants: tuple[str, ...] = Field(min_length=1)

    _resolve = field_validator(
        "secret", "push_token", "encoding_aes_key", "virtual_pay_app_key", mode="before"
    )(_secret)


class PaydeskConfig(BaseModel):
    """Everything in the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    merchants: list[MerchantConfig] = []
    apps: list[AppConfig] = []

    def merchant(self, mchid: str) -> MerchantConfig | None:
        """The merchant with this mchid, if configured."""
        return next((m for m in self.merchants if m.mchid == mchid), None)

    def app(self, appid: str) -> AppConfig | None:
        """The app with this appid, if configured."""
        return next((a for a in self.apps if a.appid == appid), None)


def load_config(path: Path) -> PaydeskConfig:
    """Read and validate a TOML config file; secrets are resolved relative to its folder."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return PaydeskConfig.model_validate(data, context={"base_dir": path.parent})
