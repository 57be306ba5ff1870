"""Rendering the cashier's pages: templates, static assets and the headers every page carries.

Pages are server-rendered HTML with one small stylesheet and one small script, both served
from ``/pay/static/`` with a content hash in the URL (cached for a year, changed when the file
changes). Every page is ``no-store`` (it shows an order's live state), sends no ``Referer``
(the link is the order's key), cannot be framed, and runs scripts only from us — and, in
sandbox mode, from the sandbox that stands in for WeChat.

>>> asset_path("cashier.css").startswith("/pay/static/cashier.css?v=")
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from paydesk.web.i18n import Translator

__all__ = [
    "ASSET_TYPES",
    "Asset",
    "asset",
    "asset_path",
    "origin_of",
    "page_headers",
    "render",
]

#: The static files and their media types; nothing else is ever served from ``static/``.
ASSET_TYPES: dict[str, str] = {
    "cashier.css": "text/css; charset=utf-8",
    "cashier.js": "text/javascript; charset=utf-8",
}
_ENV = Environment(
    loader=PackageLoader("paydesk.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, media type and content hash."""

    body: bytes
    media_type: str
    version: str


@cache
def asset(name: str) -> Asset:
    """The static file ``name`` (``KeyError`` for anything not in :data:`ASSET_TYPES`)."""
    media_type = ASSET_TYPES[name]
    body = resources.files("paydesk.web").joinpath("static", name).read_bytes()
    return Asset(body, media_type, hashlib.sha256(body).hexdigest()[:12])


def asset_path(name: str) -> str:
    """The versioned path of a static file, relative to the public URL's root."""
    return f"/pay/static/{name}?v={asset(name).version}"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL.

    >>> origin_of("http://127.0.0.1:8000/sandbox")
    'http://127.0.0.1:8000'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_headers(*, sandbox: str | None = None, referrer: str = "no-referrer") -> dict[str, str]:
    """Security and caching headers for a page; ``sandbox`` allows its bridge script.

    ``referrer`` is ``origin`` on the H5 hand-over page only: WeChat checks that the page
    opening ``h5_url`` belongs to the merchant's registered H5 domain (PROTOCOL.md §1.10), and
    the origin says so without revealing the link.

    >>> page_headers()["Referrer-Policy"]
    'no-referrer'
    """
    extra = f" {origin_of(sandbox)}" if sandbox else ""
    policy = (
        "default-src 'none'; "
        f"script-src 'self'{extra}; "
        f"connect-src 'self'{extra}; "
        "style-src 'self' 'unsafe-inline'; "  # the sandbox's bridge styles its sheet inline
        "img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "Referrer-Policy": referrer,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def render(template: str, *, t: Translator, root: str, **context: Any) -> str:
    """Render ``templates/<template>`` in ``t``'s language; ``root`` is the public URL."""
    root = root.rstrip("/")

    def static(name: str) -> str:
        return root + asset_path(name)

    return _ENV.get_template(template).render(t=t, static=static, **context)
