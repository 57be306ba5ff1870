"""The configured merchants and apps, looked up by id, with the URLs WeChat must call back.

>>> from paydesk.settings import PaydeskConfig
>>> config = PaydeskConfig.model_validate({"merchants": [{"mchid": "1900000001"}]})
>>> Registry(config, "https://pay.example.com").notify_url("1900000001", "v3")
'https://pay.example.com/api/v1/notify/wechatpay/v3/1900000001'
"""

from __future__ import annotations

from paydesk.domain.errors import InvalidInput, NotFound
from paydesk.settings import AppConfig, MerchantConfig, PaydeskConfig


class Registry:
    """Merchants and apps by id; every lookup of an unknown id is a clear error."""

    def __init__(self, config: PaydeskConfig, public_url: str) -> None:
        self.config = config
        self.public_url = public_url.rstrip("/")
        self._merchants = {m.mchid: m for m in config.merchants}
        self._apps = {a.appid: a for a in config.apps}

    @property
    def merchants(self) -> list[MerchantConfig]:
        """Every configured merchant, in file order."""
        return list(self.config.merchants)

    @property
    def apps(self) -> list[AppConfig]:
        """Every configured app, in file order."""
        return list(self.config.apps)

    def merchant(self, mchid: str) -> MerchantConfig:
        """The merchant ``mchid``, or NotFound."""
        try:
            return self._merchants[mchid]
        except KeyError:
            raise NotFound("merchant_not_found", f"no merchant {mchid} is configured") from None

    def app(self, appid: str) -> AppConfig:
        """The app ``appid``, or NotFound."""
        try:
            return self._apps[appid]
        except KeyError:
            raise NotFound("app_not_found", f"no app {appid} is configured") from None

    def default_merchant(self) -> MerchantConfig:
        """The first configured merchant (used when a request names none)."""
        if not self.config.merchants:
            raise InvalidInput("no_merchant", "no merchant is configured: see paydesk config check")
        return self.config.merchants[0]

    def default_app(self, mchid: str) -> AppConfig:
        """The first app bound to ``mchid``, preferring a mini program."""
        bound = [a for a in self.config.apps if mchid in a.merchants]
        if not bound:
            raise InvalidInput("no_app", f"no app is bound to merchant {mchid}")
        return next((a for a in bound if a.type == "miniprogram"), bound[0])

    def check_binding(self, appid: str, mchid: str) -> AppConfig:
        """The app ``appid``, if it is bound to merchant ``mchid``; InvalidInput otherwise."""
        app = self.app(appid)
        if mchid not in app.merchants:
            raise InvalidInput(
                "app_not_bound", f"app {appid} is not bound to merchant {mchid}", appid=appid
            )
        return app

    def notify_url(self, mchid: str, version: str, kind: str = "") -> str:
        """Where WeChat notifies this merchant (no query string: WeChat refuses one)."""
        base = (self.merchant(mchid).notify_base_url or self.public_url).rstrip("/")
        suffix = f"/{kind}" if kind else ""
        return f"{base}/api/v1/notify/wechatpay/{version}/{mchid}{suffix}"
