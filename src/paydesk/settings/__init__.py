"""Process settings from ``PAYDESK_*`` environment variables, plus the merchants-and-apps file.

    >>> s = Settings(data_dir="/tmp/pd")
    >>> s.effective_database_url()
    'sqlite+aiosqlite:////tmp/pd/paydesk.sqlite3'

Outside ``development``, placeholder secrets are refused (see :func:`refuse_placeholders`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paydesk.settings.config import AppConfig, MerchantConfig, PaydeskConfig, load_config
from paydesk.settings.secrets import SecretError, is_placeholder

__all__ = [
    "AppConfig",
    "MerchantConfig",
    "PaydeskConfig",
    "SecretError",
    "Settings",
    "load_config",
    "refuse_placeholders",
]

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """Everything that differs between a laptop and production; all overridable by env."""

    model_config = SettingsConfigDict(env_prefix="PAYDESK_", extra="ignore")

    environment: Environment = "development"
    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "paydesk:"
    config_file: Path | None = None
    public_url: str = "http://127.0.0.1:8000"
    sandbox: bool = False
    wechat_pay_base_url: str = "https://api.mch.weixin.qq.com"
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_open_base_url: str = "https://open.weixin.qq.com"
    secret_key: SecretStr | None = None
    max_body_bytes: int = 64 * 1024
    session_ttl_seconds: int = 7 * 24 * 3600
    order_ttl_seconds: int = 2 * 3600
    trusted_proxies: tuple[str, ...] = ()
    run_worker_in_process: bool = True

    @model_validator(mode="after")
    def _secret_key_outside_development(self) -> Settings:
        if self.environment != "development":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(key) < 32 or is_placeholder(key):
                raise ValueError(
                    "PAYDESK_SECRET_KEY must be a random value of at least 32 characters "
                    "outside development (make one with: python -c "
                    "'import secrets; print(secrets.token_urlsafe(48))')"
                )
        return self

    def effective_database_url(self) -> str:
        """``PAYDESK_DATABASE_URL``, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'paydesk.sqlite3').resolve()}"


def refuse_placeholders(settings: Settings, config: PaydeskConfig) -> None:
    """Outside development, refuse any configured secret that is obviously a placeholder."""
    if settings.environment == "development":
        return
    problems: list[str] = []
    for merchant in config.merchants:
        for name in ("private_key", "apiv3_key", "platform_public_key", "v2_key"):
            value: SecretStr | None = getattr(merchant, name)
            if value is not None and is_placeholder(value.get_secret_value()):
                problems.append(f"merchant {merchant.mchid}: {name}")
    for app in config.apps:
        for name in ("secret", "push_token", "encoding_aes_key", "virtual_pay_app_key"):
            value = getattr(app, name)
            if value is not None and is_placeholder(value.get_secret_value()):
                problems.append(f"app {app.appid}: {name}")
    if problems:
        raise SecretError(
            "placeholder secrets are refused outside development: " + ", ".join(problems)
        )


def load_settings_and_config(settings: Settings | None = None) -> tuple[Settings, PaydeskConfig]:
    """Settings from the environment and the config file they name (empty config if none)."""
    settings = settings or Settings()
    config = load_config(settings.config_file) if settings.config_file else PaydeskConfig()
    refuse_placeholders(settings, config)
    return settings, config
