"""Where the browser meets WeChat: the OAuth authorize host, and the sandbox in sandbox mode.

Sandbox mode is ``PAYDESK_SANDBOX=true``, or WeChat's base URL pointing at our own
``/sandbox`` mount (the embedded ``paydesk serve``). Then the sandbox is WeChat for the browser
too: OAuth goes to its authorize page, and the JSAPI page loads its ``WeixinJSBridge``
stand-in (``/_sandbox/jsbridge.js``) so the road works in any browser with a WeChat user agent.

>>> is_own_sandbox("http://127.0.0.1:8000/sandbox", "http://127.0.0.1:8000/")
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["authorize_host", "is_own_sandbox", "sandbox_base"]

#: Where ``paydesk serve`` mounts its sandbox.
SANDBOX_MOUNT = "/sandbox"


def is_own_sandbox(wechat_base_url: str, public_url: str) -> bool:
    """Whether ``wechat_base_url`` is the sandbox mounted inside this very app.

    >>> is_own_sandbox("https://api.weixin.qq.com", "https://pay.example.com")
    False
    """
    own = public_url.rstrip("/") + SANDBOX_MOUNT
    base = wechat_base_url.rstrip("/")
    return base == own or base.startswith(own + "/")


def sandbox_base(services: Services) -> str | None:
    """The sandbox's base URL as a browser reaches it, or None when WeChat is real."""
    base = services.wechat.endpoints.api_base_url.rstrip("/")
    if services.settings.sandbox or is_own_sandbox(base, services.settings.public_url):
        return base
    return None


def authorize_host(services: Services) -> str:
    """The host of the OAuth authorize page (``open.weixin.qq.com``, or the sandbox)."""
    return sandbox_base(services) or services.settings.wechat_open_base_url.rstrip("/")
