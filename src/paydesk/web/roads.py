"""``GET /pay/{token}``: the road chosen by the browser, and the OAuth return of the WeChat road.

::

    WeChat browser ─► authorize (state cookie) ─► /pay/{token}/oauth ─► JSAPI page ─► bridge ─┐
    phone browser ──► H5 prepay ─► hand-over page ─► WeChat Pay's h5_url ─► back ────────────┤
    computer ───────► Native prepay ─► QR page, live status (SSE / polling) ─────────────────┤
                                                                 /pay/{token}/result ◄───────┘

An order that is no longer open (paid, closed, expired) goes straight to the result page. A
road starts (a prepay, or an authorize round trip) at most :data:`ROAD_STARTS_PER_MINUTE`
times a minute per order, whatever the reloads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from paydesk.domain.cashier.links import open_link
from paydesk.domain.cashier.oauth import (
    STATE_COOKIE,
    Identified,
    OAuthStart,
    finish_oauth,
    start_oauth,
)
from paydesk.domain.cashier.payers import payer_app
from paydesk.domain.cashier.prepays import prepay_h5, prepay_jsapi, prepay_native
from paydesk.domain.cashier.status import CashierView, look
from paydesk.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    UpstreamFailed,
)
from paydesk.web.browser import Road, h5_type, road_for
from paydesk.web.qr import qr_svg
from paydesk.web.shell import Shell, script_json

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["MAX_OAUTH_TRIES", "ROAD_STARTS_PER_MINUTE", "oauth_return", "pay_page"]

log = logging.getLogger("paydesk.web")

#: Fresh authorize redirects in a row before the page asks the shopper instead (a browser
#: that drops cookies would otherwise loop for ever).
MAX_OAUTH_TRIES = 3
#: Road starts (each may cost a prepay at WeChat) one order's pages may make per minute.
ROAD_STARTS_PER_MINUTE = 20


def invalid_link(shell: Shell) -> Response:
    """The page for a forged, garbled or long-expired link."""
    return shell.message("invalid_title", "invalid_body", status=404, badge="badge-muted")


async def pay_page(services: Services, request: Request, token: str) -> Response:
    """The cashier entry: check the link, then take the browser's road."""
    shell = Shell.of(services, request, token)
    try:
        opened = open_link(services, token)
    except DomainError:
        return invalid_link(shell)
    view = await look(services, opened.order_id)
    if view.phase != "open":
        return RedirectResponse(shell.url("/result"), status_code=303)
    road = road_for(request.headers.get("user-agent"))
    if road == Road.WECHAT:
        return await _guard(shell, view, lambda: _authorize(shell, view, attempt=1), wechat=True)
    if road == Road.MOBILE:
        return await _guard(shell, view, lambda: _h5(shell, view))
    return await _guard(shell, view, lambda: _native(shell, view))


async def oauth_return(services: Services, request: Request, token: str) -> Response:
    """WeChat's redirect back: check state and code, then the JSAPI page — or start over."""
    shell = Shell.of(services, request, token)
    try:
        opened = open_link(services, token)
    except DomainError:
        return invalid_link(shell)
    view = await look(services, opened.order_id)
    if view.phase != "open":
        return RedirectResponse(shell.url("/result"), status_code=303)
    query = request.query_params
    outcome = await finish_oauth(
        services,
        order_id=view.order_id,
        state=query.get("state"),
        code=query.get("code"),
        cookie=request.cookies.get(STATE_COOKIE),
    )
    if isinstance(outcome, Identified):
        return await _guard(shell, view, lambda: _jsapi(shell, view, outcome), wechat=True)
    attempt = _attempt(query.get("try")) + 1
    log.info("cashier OAuth for %s starts over (%s)", view.order_id, outcome.reason)
    if attempt > MAX_OAUTH_TRIES:
        return shell.message("identify_title", "identify_body", status=200, retry=True)
    return await _guard(shell, view, lambda: _authorize(shell, view, attempt=attempt), wechat=True)


def _attempt(raw: str | None) -> int:
    return int(raw) if raw is not None and raw.isdigit() and len(raw) <= 2 else 1


async def _guard(
    shell: Shell,
    view: CashierView,
    road: Callable[[], Awaitable[Response]],
    *,
    wechat: bool = False,
) -> Response:
    """Run a road; the domain's refusals become pages a shopper understands."""
    decision = await shell.services.cache.limits.hit(
        f"cashier:road:{view.order_id}", limit=ROAD_STARTS_PER_MINUTE, window_seconds=60
    )
    if not decision.allowed:
        retry_after = {"Retry-After": str(max(1, int(decision.retry_after)))}
        return shell.message("slow_down_title", "slow_down_body", status=429, headers=retry_after)
    try:
        return await road()
    except Conflict:  # paid, closed or expired meanwhile: the result page says which
        return RedirectResponse(shell.url("/result"), status_code=303)
    except Forbidden:
        return shell.message("not_yours_title", "not_yours_body", status=403, badge="badge-muted")
    except InvalidInput as refused:  # e.g. no official account bound: no JSAPI here
        log.warning("cashier for %s cannot pay: %s", view.order_id, refused.message)
        heading = "no_wechat" if wechat else "unavailable"
        return shell.message(f"{heading}_title", f"{heading}_body", status=409, badge="badge-muted")
    except UpstreamFailed as failed:
        log.warning("cashier for %s: WeChat failed: %s", view.order_id, failed.message)
        return shell.message("busy_title", "busy_body", status=503, retry=True)


async def _authorize(shell: Shell, view: CashierView, *, attempt: int) -> Response:
    app = payer_app(shell.services.registry, view.mchid, view.appid, "jsapi")
    start = await start_oauth(
        shell.services,
        order_id=view.order_id,
        appid=app.appid,
        callback_url=shell.url(f"/oauth?try={attempt}"),
    )
    return _with_state_cookie(shell, RedirectResponse(start.authorize_url, 302), start)


def _cookie_path(shell: Shell) -> str:
    return urlsplit(shell.root).path.rstrip("/") + "/pay"


def _with_state_cookie(shell: Shell, response: Response, start: OAuthStart) -> Response:
    response.set_cookie(
        STATE_COOKIE,
        start.cookie,
        max_age=start.max_age,
        path=_cookie_path(shell),
        secure=shell.root.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _jsapi(shell: Shell, view: CashierView, who: Identified) -> Response:
    params = await prepay_jsapi(
        shell.services, view, appid=who.appid, openid=who.openid, client_ip=shell.client_ip()
    )
    bridge = f"{shell.sandbox}/_sandbox/jsbridge.js" if shell.sandbox else None
    response = shell.page(
        "jsapi.html",
        view,
        params_json=script_json(params),
        bridge_url=bridge,
        result_url=shell.url("/result"),
    )
    response.delete_cookie(STATE_COOKIE, path=_cookie_path(shell))
    return response


async def _h5(shell: Shell, view: CashierView) -> Response:
    h5_url = await prepay_h5(
        shell.services,
        view,
        client_ip=shell.client_ip(),
        h5_type=h5_type(shell.request.headers.get("user-agent")),
        redirect_url=shell.url("/result"),
    )
    return shell.page("h5.html", view, referrer="origin", h5_url=h5_url)


async def _native(shell: Shell, view: CashierView) -> Response:
    code_url = await prepay_native(shell.services, view, client_ip=shell.client_ip())
    scan = None
    if shell.sandbox:
        scan = f"{shell.sandbox}/_sandbox/scan?code_url={quote(code_url, safe='')}"
    return shell.page(
        "native.html",
        view,
        qr_svg=qr_svg(code_url, title=shell.t("scan_to_pay")),
        sandbox_scan_url=scan,
        status_url=shell.url("/status"),
        events_url=shell.url("/events"),
    )
