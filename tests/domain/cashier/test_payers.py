"""Which app pays on each road: the official account for JSAPI; the order's own app when it fits."""

from __future__ import annotations

import pytest

from paydesk.domain.cashier.payers import payer_app
from paydesk.domain.errors import InvalidInput
from paydesk.domain.registry import Registry
from paydesk.settings import PaydeskConfig

M1, M2 = "1900000001", "1900000002"
MINI, WEB, OA1, OA2, APP, OTHER = (
    f"wx{name:0>16}" for name in ("mini", "web", "oa1", "oa2", "app", "other")
)


def registry(*apps: tuple[str, str, tuple[str, ...]]) -> Registry:
    config = PaydeskConfig.model_validate(
        {
            "merchants": [{"mchid": M1}, {"mchid": M2}],
            "apps": [
                {"appid": appid, "type": kind, "secret": "s", "merchants": list(merchants)}
                for appid, kind, merchants in apps
            ],
        }
    )
    return Registry(config, "https://pay.example.com")


APPS = registry(
    (MINI, "miniprogram", (M1, M2)),
    (WEB, "web", (M1,)),
    (OA2, "official_account", (M2,)),
    (OA1, "official_account", (M1,)),
    (APP, "app", (M1,)),
)


@pytest.mark.parametrize(
    ("mchid", "order_appid", "channel", "appid"),
    [
        (M1, MINI, "jsapi", OA1),  # only an official account can do JSAPI
        (M2, MINI, "jsapi", OA2),  # …bound to the order's merchant
        (M1, OA1, "jsapi", OA1),
        (M1, MINI, "native", MINI),  # the order's own app qualifies
        (M1, APP, "native", OA1),  # an app cannot: official account first
        (M1, APP, "h5", OA1),
        (M2, APP, "h5", OA2),
        (M1, WEB, "h5", WEB),
    ],
)
def test_table(mchid: str, order_appid: str, channel: str, appid: str) -> None:
    assert payer_app(APPS, mchid, order_appid, channel).appid == appid


def test_web_apps_come_before_mini_programs_when_nothing_else_fits() -> None:
    apps = registry((MINI, "miniprogram", (M1,)), (WEB, "web", (M1,)))
    assert payer_app(apps, M1, OTHER, "native").appid == WEB


def test_no_official_account_no_jsapi() -> None:
    apps = registry((MINI, "miniprogram", (M1,)))
    with pytest.raises(InvalidInput) as refused:
        payer_app(apps, M1, MINI, "jsapi")
    assert refused.value.code == "no_jsapi_app"
    assert "official_account" in refused.value.message
