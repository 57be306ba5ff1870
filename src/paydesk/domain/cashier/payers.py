"""Which app pays on each browser road, among the apps bound to the order's merchant.

JSAPI needs an official account (its OAuth gives the payer's openid for *that* account):
the order's own app if it is one, else the first official account bound to the merchant.
H5 and Native may go through any bound official account, web app or mini program: the
order's own app when it qualifies, else the first official account, then web app.

>>> from paydesk.settings import PaydeskConfig
>>> apps = [{"appid": appid, "type": kind, "secret": "s", "merchants": ["1900000001"]}
...         for appid, kind in (("wx0000000000000001", "miniprogram"),
...                             ("wx0000000000000002", "official_account"))]
>>> config = PaydeskConfig.model_validate({"merchants": [{"mchid": "1900000001"}], "apps": apps})
>>> registry = Registry(config, "https://pay.example.com")
>>> payer_app(registry, "1900000001", "wx0000000000000001", "jsapi").appid
'wx0000000000000002'
"""

from __future__ import annotations

from paydesk.domain.errors import InvalidInput
from paydesk.domain.registry import Registry
from paydesk.settings import AppConfig

__all__ = ["ROAD_APP_TYPES", "payer_app"]

#: App types that may pay on each road, in order of preference.
ROAD_APP_TYPES: dict[str, tuple[str, ...]] = {
    "jsapi": ("official_account",),
    "h5": ("official_account", "web", "miniprogram"),
    "native": ("official_account", "web", "miniprogram"),
}


def payer_app(registry: Registry, mchid: str, order_appid: str, channel: str) -> AppConfig:
    """The app that pays ``mchid``'s order on ``channel``; InvalidInput when none can."""
    allowed = ROAD_APP_TYPES[channel]
    bound = [app for app in registry.apps if mchid in app.merchants and app.type in allowed]
    own = next((app for app in bound if app.appid == order_appid), None)
    if own is not None:
        return own
    for kind in allowed:
        for app in bound:
            if app.type == kind:
                return app
    needed = " or ".join(allowed)
    raise InvalidInput(
        f"no_{channel}_app", f"merchant {mchid} has no {needed} app bound for {channel} payments"
    )
