"""What every cashier page of one request shares: the link, the language, the order's face.

>>> beijing_time(datetime(2026, 1, 1, 2, 30, tzinfo=timezone.utc))
'2026-01-01 10:30'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from paydesk.domain.cashier.hosts import sandbox_base
from paydesk.web.client_ip import client_ip
from paydesk.web.i18n import Translator, negotiate
from paydesk.web.money import yuan
from paydesk.web.pages import page_headers, render

if TYPE_CHECKING:
    from paydesk.domain.cashier.status import CashierView
    from paydesk.domain.context import Services

__all__ = ["Shell", "beijing_time", "script_json"]

_BEIJING = timezone(timedelta(hours=8))
# Characters that could end a <script> block or open a comment inside it.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def beijing_time(moment: datetime) -> str:
    """A time as a shopper in China reads it (WeChat Pay is a CNY, Beijing-time service)."""
    return moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M")


def script_json(value: Any) -> str:
    """JSON safe to put inside ``<script type="application/json">``.

    >>> script_json({"a": "</script>"})
    '{"a":"\\\\u003c/script\\\\u003e"}'
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).translate(_SCRIPT_ESCAPES)


@dataclass(frozen=True)
class Shell:
    """One request to a cashier page: services, the request, its token and its language."""

    services: Services
    request: Request
    token: str
    t: Translator
    sandbox: str | None

    @classmethod
    def of(cls, services: Services, request: Request, token: str) -> Shell:
        """The shell for ``request`` (language from ``Accept-Language``)."""
        lang = negotiate(request.headers.get("accept-language"))
        return cls(services, request, token, Translator(lang), sandbox_base(services))

    @property
    def root(self) -> str:
        """The public URL, without a trailing slash."""
        return self.services.settings.public_url.rstrip("/")

    def url(self, suffix: str = "") -> str:
        """This link's page URL, plus ``suffix`` (``/result``, ``/status``, …)."""
        return f"{self.root}/pay/{self.token}{suffix}"

    def client_ip(self) -> str | None:
        """The shopper's address (``X-Forwarded-For`` only from trusted proxies)."""
        peer = self.request.client.host if self.request.client else None
        return client_ip(
            peer,
            self.request.headers.get("x-forwarded-for"),
            trusted_proxies=self.services.settings.trusted_proxies,
        )

    def page(
        self,
        template: str,
        view: CashierView | None,
        *,
        status: int = 200,
        referrer: str = "no-referrer",
        **context: Any,
    ) -> HTMLResponse:
        """Render a page about ``view`` (or about nothing, for a message)."""
        order: dict[str, Any] = {"merchant": None, "phase": context.pop("phase", "message")}
        if view is not None:
            order = {
                "merchant": view.merchant_name,
                "phase": view.phase,
                "amount": yuan(view.amount),
                "description": view.description,
                "out_trade_no": view.out_trade_no,
                "deadline": beijing_time(view.expires_at),
                "deadline_iso": view.expires_at.isoformat(),
            }
        html = render(
            template,
            t=self.t,
            root=self.root,
            page=template.removesuffix(".html"),
            sandbox=self.sandbox,
            **order,
            **context,
        )
        headers = page_headers(sandbox=self.sandbox, referrer=referrer)
        return HTMLResponse(html, status_code=status, headers=headers)

    def message(
        self,
        heading: str,
        body: str,
        *,
        status: int,
        badge: str = "badge-warn",
        retry: bool = False,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A page that only says something (an invalid link, a busy WeChat, …)."""
        response = self.page(
            "message.html",
            None,
            status=status,
            heading=heading,
            body=body,
            badge=badge,
            retry_url=self.url() if retry else None,
        )
        response.headers.update(headers or {})
        return response
