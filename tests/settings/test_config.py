"""Settings, the TOML config, secret sources and placeholder refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from paydesk.settings import (
    PaydeskConfig,
    SecretError,
    Settings,
    load_config,
    load_settings_and_config,
    refuse_placeholders,
)
from paydesk.settings.secrets import is_placeholder, resolve_secret

TOML = """
[[merchants]]
mchid = "1900000001"
serial_no = "5F1C72E2A8931B72"
private_key = { file = "key.pem" }
apiv3_key = { env = "PD_TEST_APIV3" }
platform_public_key_id = "PUB_KEY_ID_0000000000000024101100397200000006"
platform_public_key = "inline-public-key"

[[apps]]
appid = "wx5a0d5a0d00000001"
type = "miniprogram"
secret = "a-real-looking-secret-7f3k"
merchants = ["1900000001"]
"""


def write_config(tmp_path: Path, text: str = TOML) -> Path:
    (tmp_path / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    )
    path = tmp_path / "paydesk.toml"
    path.write_text(text)
    return path


def test_secrets_resolve_inline_file_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PD_TEST_APIV3", "k" * 31 + "z")
    config = load_config(write_config(tmp_path))
    merchant = config.merchants[0]
    assert merchant.private_key is not None
    assert merchant.private_key.get_secret_value().startswith("-----BEGIN PRIVATE KEY-----")
    assert merchant.apiv3_key is not None
    assert merchant.apiv3_key.get_secret_value() == "k" * 31 + "z"
    assert "kkkk" not in repr(merchant)
    assert "BEGIN" not in repr(merchant)
    assert "kkkk" not in merchant.model_dump_json()
    assert config.app("wx5a0d5a0d00000001") is not None
    assert config.merchant("1900000001") is merchant
    assert config.merchant("nope") is None
    assert config.app("nope") is None


def test_missing_env_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PD_TEST_APIV3 is not set"):
        load_config(write_config(tmp_path))
    with pytest.raises(SecretError, match="cannot read"):
        resolve_secret({"file": "absent.pem"}, field="private_key", base_dir=tmp_path)
    with pytest.raises(SecretError, match="inline"):
        resolve_secret({"vault": "x"}, field="private_key")
    with pytest.raises(SecretError, match="inline"):
        resolve_secret(42, field="private_key")


def test_file_paths_absolute_and_home(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("  value-from-file \n")
    assert resolve_secret({"file": str(path)}, field="f").get_secret_value() == "value-from-file"


def test_config_rejects_unknown_fields_and_bad_ids() -> None:
    with pytest.raises(ValidationError, match="extra"):
        PaydeskConfig.model_validate({"merchants": [{"mchid": "1900000001", "colour": "red"}]})
    with pytest.raises(ValidationError, match="mchid"):
        PaydeskConfig.model_validate({"merchants": [{"mchid": "19a"}]})
    with pytest.raises(ValidationError, match="merchants"):
        PaydeskConfig.model_validate(
            {
                "apps": [
                    {
                        "appid": "wx5a0d5a0d00000001",
                        "type": "miniprogram",
                        "secret": "s",
                        "merchants": [],
                    }
                ]
            }
        )


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("changethis", True),
        ("CHANGE-ME", True),
        ("xxxxxxxx", True),
        ("<your key>", True),
        ("your_api_key", True),
        ("", True),
        ("aaaaaaaa", True),
        ("k3Jd9sLq0ZxT8wVb", False),
    ],
)
def test_placeholders(value: str, placeholder: bool) -> None:
    assert is_placeholder(value) is placeholder


def test_placeholders_refused_outside_development(tmp_path: Path) -> None:
    config = PaydeskConfig.model_validate(
        {
            "merchants": [{"mchid": "1900000001", "apiv3_key": "changethis"}],
            "apps": [
                {
                    "appid": "wx5a0d5a0d00000001",
                    "type": "miniprogram",
                    "secret": "xxx",
                    "merchants": ["1900000001"],
                }
            ],
        }
    )
    refuse_placeholders(Settings(), config)  # development: allowed
    production = Settings(environment="production", secret_key="s" * 20 + "Kq83nZ0vLp1xYt5bWm")
    with pytest.raises(SecretError) as info:
        refuse_placeholders(production, config)
    assert "merchant 1900000001: apiv3_key" in str(info.value)
    assert "app wx5a0d5a0d00000001: secret" in str(info.value)
    assert "changethis" not in str(info.value)


def test_secret_key_required_outside_development() -> None:
    with pytest.raises(ValidationError, match="PAYDESK_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="PAYDESK_SECRET_KEY"):
        Settings(environment="test", secret_key="changethis")
    assert Settings(environment="test", secret_key="Zq8" * 12).environment == "test"


def test_database_url_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).effective_database_url() == (
        f"sqlite+aiosqlite:///{tmp_path / 'paydesk.sqlite3'}"
    )
    url = "postgresql+asyncpg://u@h/db"
    assert Settings(database_url=url).effective_database_url() == url


def test_env_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAYDESK_PUBLIC_URL", "https://pay.example.com")
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", str(write_config(tmp_path)))
    monkeypatch.setenv("PD_TEST_APIV3", "k" * 32)
    settings, config = load_settings_and_config()
    assert settings.public_url == "https://pay.example.com"
    assert [m.mchid for m in config.merchants] == ["1900000001"]
    monkeypatch.delenv("PAYDESK_CONFIG_FILE")
    assert load_settings_and_config()[1] == PaydeskConfig()
