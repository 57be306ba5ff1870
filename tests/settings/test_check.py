"""``paydesk config check``'s findings, on the wechatpay-java SDK's published test keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paydesk.settings import PaydeskConfig, Settings
from paydesk.settings.check import Finding, check_config

JAVA = json.loads(
    (Path(__file__).parents[1] / "protocol/v3/vectors/v3_wechatpay_java_sdk_keys.json").read_text()
)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
GOOD_PUBLIC_KEY_ID = "PUB_KEY_ID_0000000000000024101100397200000006"


def merchant(**overrides: Any) -> dict[str, Any]:
    base = {
        "mchid": JAVA["mchid"],
        "serial_no": JAVA["merchant_serial_no"],
        "private_key": JAVA["merchant_private_key_pem"],
        "certificate": JAVA["merchant_certificate_pem"],
        "apiv3_key": JAVA["apiv3_key"],
        "platform_public_key_id": GOOD_PUBLIC_KEY_ID,
        "platform_public_key": JAVA["wechat_pay_public_key_pem"],
    }
    return {**base, **overrides}


def findings(
    merchants: list[dict[str, Any]],
    apps: list[dict[str, Any]] | None = None,
    settings: Settings | None = None,
) -> list[Finding]:
    config = PaydeskConfig.model_validate({"merchants": merchants, "apps": apps or []})
    return check_config(settings or Settings(), config, now=NOW)


def errors(found: list[Finding]) -> list[str]:
    return [f.message for f in found if f.level == "error"]


def test_a_consistent_merchant_is_ok() -> None:
    found = findings([merchant()])
    assert [(f.level, f.message) for f in found] == [("ok", "API v3 keys consistent (public key)")]


def test_certificate_mode_is_ok_and_checks_validity() -> None:
    cert_mode = merchant(
        platform_public_key_id=None,
        platform_public_key=None,
        platform_certificates=[JAVA["wechat_pay_certificate_pem"]],
    )
    assert errors(findings([cert_mode])) == []
    late = PaydeskConfig.model_validate({"merchants": [cert_mode]})
    expired = check_config(Settings(), late, now=datetime(2099, 1, 1, tzinfo=UTC))
    assert any("is not valid now" in m for m in errors(expired))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"apiv3_key": "short"}, "apiv3_key must be 32 bytes (got 5)"),
        ({"serial_no": "ABCDEF"}, "is not the certificate's serial"),
        ({"serial_no": None}, "serial_no (merchant API certificate serial) missing"),
        ({"private_key": None}, "private_key (apiclient_key.pem) missing"),
        ({"private_key": "not a key"}, "private_key:"),
        (
            {
                "certificate": JAVA["wechat_pay_certificate_pem"],
                "serial_no": "440024045C4A427599D09BB4E3DE0279F2E813FD",
            },
            "private_key does not belong to the certificate",
        ),
        ({"certificate": "garbage"}, "certificate:"),
        ({"platform_public_key_id": "0000000024101100397200000006"}, "PUB_KEY_ID_"),
        ({"platform_public_key": "garbage"}, "platform_public_key:"),
        ({"platform_public_key": None}, "go together"),
        ({"platform_public_key_id": None, "platform_public_key": None}, "no verification key"),
        (
            {
                "platform_public_key_id": None,
                "platform_public_key": None,
                "platform_certificates": ["garbage"],
            },
            "platform certificate:",
        ),
        ({"notify_base_url": "https://x.example/?a=1"}, "must not have a query string"),
        ({"v2_key": "short"}, "v2_key must be 32 characters (got 5)"),
    ],
)
def test_each_problem_is_named(overrides: dict[str, Any], expected: str) -> None:
    assert any(expected in m for m in errors(findings([merchant(**overrides)]))), expected


def test_v2_merchant() -> None:
    ok = findings([{"mchid": "10000100", "api_version": "v2", "v2_key": "1" * 16 + "a" * 16}])
    assert [(f.level, f.message) for f in ok] == [("ok", "API v2 with HMAC-SHA256 signatures")]
    assert errors(findings([{"mchid": "10000100", "api_version": "v2"}]))


def test_no_merchants_is_a_warning() -> None:
    assert [f.level for f in findings([])] == ["warn"]


def test_public_url_rules() -> None:
    production = Settings(
        environment="production", secret_key="Zq8" * 12, public_url="http://pay.example.com"
    )
    assert any("https" in m for m in errors(findings([merchant()], settings=production)))
    query = Settings(public_url="https://pay.example.com/?x=1")
    assert any("query string" in m for m in errors(findings([merchant()], settings=query)))


def test_apps() -> None:
    app = {
        "appid": "wx5a0d5a0d00000001",
        "type": "miniprogram",
        "secret": "s3cr3t-abc",
        "merchants": [JAVA["mchid"]],
    }
    assert findings([merchant()], [app])[-1].message == f"miniprogram bound to {JAVA['mchid']}"
    unbound = {**app, "merchants": ["1999999999"]}
    assert "bound to unknown merchant 1999999999" in errors(findings([merchant()], [unbound]))
    bad_key = {**app, "encoding_aes_key": "too-short", "push_token": "t"}
    assert any("EncodingAESKey" in m for m in errors(findings([merchant()], [bad_key])))
    not_b64 = {**app, "encoding_aes_key": "!" * 43}
    assert any("EncodingAESKey" in m for m in errors(findings([merchant()], [not_b64])))
    no_key = {**app, "push_token": "t", "push_mode": "safe"}
    assert any("needs encoding_aes_key" in m for m in errors(findings([merchant()], [no_key])))
