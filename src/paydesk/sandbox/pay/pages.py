"""Pages for people: pay sheets, the Native landing, the log, and the ``WeixinJSBridge`` stand-in.

    GET  /_sandbox/pay-sheet?prepay_id=…        the pay sheet of a JSAPI / APP prepay
    GET  /_sandbox/checkmweb?prepay_id=…&package=…[&redirect_url=…]   H5 (the ``h5_url``)
    GET  /_sandbox/scan?code_url=weixin://wxpay/bizpayurl?pr=…         Native "scan"
    POST /_sandbox/pay-sheet                    the sheets' Pay / Cancel / Fail buttons
    GET  /_sandbox/  and  /_sandbox/log[?out_trade_no=…&refresh=3]     orders, refunds, attempts
    GET  /_sandbox/jsbridge.js                  ``WeixinJSBridge.invoke('getBrandWCPayRequest')``

Every button goes through :func:`paydesk.sandbox.pay.payer.pay`, like ``POST /_sandbox/pay``.
Links carry the mount prefix (:func:`~paydesk.sandbox.http.public_base`). The H5 sheet
returns to ``redirect_url`` (http or https only) after paying or cancelling, as WeChat does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.sandbox.http import public_base
from paydesk.sandbox.pay.model import Order, yuan
from paydesk.sandbox.pay.payer import CODE_URL_PREFIX, PayRequest, parse_pay_request, pay
from paydesk.sandbox.pay.refusals import Refusal
from paydesk.sandbox.pay.retry import MAX_ATTEMPTS, RETRY_GAPS

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["JSBRIDGE_PATH", "render", "routes"]

_HERE = Path(__file__).resolve().parent.parent
JSBRIDGE_PATH = _HERE / "static" / "jsbridge.js"
_ENV = Environment(
    loader=FileSystemLoader(str(_HERE / "templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
_FORM_FIELDS = ("prepay_id", "code_url", "h5_url", "result", "openid", "redirect_url")
_MAX_FORM = 8 * 1024


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/pay/<name>`` (no auto-refresh unless ``refresh`` is given)."""
    context.setdefault("refresh", 0)
    return HTMLResponse(_ENV.get_template(f"pay/{name}").render(**context), status)


def _gap(seconds: int) -> str:
    return (
        f"{seconds // 3600}h"
        if seconds >= 3600
        else f"{seconds // 60}m"
        if seconds >= 60
        else f"{seconds}s"
    )


def _safe_redirect(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def routes(world: PayWorld) -> list[BaseRoute]:
    """The page routes bound to ``world``."""

    def missing(request: Request, message: str, status: int = 404) -> HTMLResponse:
        return render(
            "result.html",
            status,
            base=public_base(request),
            heading="无法支付 · Cannot pay",
            message=message,
            ok=False,
            err_msg=None,
            out_trade_no=None,
        )

    def sheet(request: Request, order: Order, hidden: dict[str, str]) -> HTMLResponse:
        return render(
            "sheet.html",
            base=public_base(request),
            order=order,
            amount=yuan(order.draft.total),
            merchant="沙箱商户 · Sandbox merchant",
            hidden=hidden,
            error=None,
        )

    async def pay_sheet(request: Request) -> Response:
        prepay_id = request.query_params.get("prepay_id", "")
        order = world.book.by_prepay(prepay_id, world.now())
        if order is None:
            return missing(request, "订单不存在 · no order has this prepay_id")
        return sheet(request, order, {"prepay_id": prepay_id})

    async def checkmweb(request: Request) -> Response:
        params = request.query_params
        order = world.book.by_prepay(params.get("prepay_id", ""), world.now())
        if order is None or params.get("package") != order.h5_package:
            return missing(request, "支付链接无效 · this h5_url is not valid")
        h5_query = urlencode({"prepay_id": params["prepay_id"], "package": params["package"]})
        hidden = {"h5_url": f"{public_base(request)}/_sandbox/checkmweb?{h5_query}"}
        redirect = _safe_redirect(params.get("redirect_url"))
        if redirect == "":
            return missing(request, "redirect_url 须为 http(s) 地址 · must be http(s)", 400)
        if redirect is not None:
            hidden["redirect_url"] = redirect
        return sheet(request, order, hidden)

    async def scan(request: Request) -> Response:
        code_url = request.query_params.get("code_url", "")
        order = None
        if code_url.startswith(CODE_URL_PREFIX):
            order = world.book.by_code(code_url.removeprefix(CODE_URL_PREFIX), world.now())
        if order is None:
            return missing(request, "二维码无效 · unknown code_url")
        return sheet(request, order, {"code_url": code_url})

    async def submit(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > _MAX_FORM:
            return missing(request, "表单过大 · form too large", 413)
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        data = {name: form[name] for name in _FORM_FIELDS if form.get(name)}
        redirect = _safe_redirect(data.pop("redirect_url", None))
        base = public_base(request)
        try:
            request_: PayRequest = parse_pay_request(data)
            outcome = pay(world, request_)
        except Refusal as refusal:
            return render(
                "result.html",
                400,
                base=base,
                heading="支付失败 · Payment refused",
                message=refusal.message,
                ok=False,
                err_msg=refusal.err_msg,
                out_trade_no=None,
            )
        if redirect:
            return RedirectResponse(redirect, status_code=303)
        paid = outcome["result"] == "SUCCESS"
        heading = {"SUCCESS": "支付成功 · Paid", "CANCEL": "已取消 · Cancelled"}.get(
            outcome["result"], "支付失败 · Payment failed"
        )
        return render(
            "result.html",
            base=base,
            heading=heading,
            message=None,
            ok=paid,
            err_msg=outcome["err_msg"],
            out_trade_no=outcome["out_trade_no"],
        )

    async def log(request: Request) -> Response:
        world.settle_due_refunds()
        number = request.query_params.get("out_trade_no") or None
        refresh = request.query_params.get("refresh", "3")
        orders = [o for o in world.book.orders() if number in (None, o.draft.out_trade_no)]
        for order in orders:
            world.book.expire(order, world.now())
        return render(
            "log.html",
            base=public_base(request),
            refresh=int(refresh) if refresh.isdigit() and int(refresh) <= 3600 else 3,
            now=world.now().isoformat(timespec="seconds"),
            speed=world.sandbox.clock.speed,
            out_trade_no=number,
            orders=orders,
            refunds=[r for r in world.book.refunds() if number in (None, r.out_trade_no)],
            deliveries=[d for d in world.dispatcher.deliveries if number in (None, d.out_trade_no)],
            gaps=" ".join(_gap(g) for g in RETRY_GAPS),
            max_attempts=MAX_ATTEMPTS,
            yuan=yuan,
        )

    async def jsbridge(request: Request) -> Response:
        script = JSBRIDGE_PATH.read_text("utf-8")
        return Response(script, media_type="application/javascript")

    return [
        Route("/_sandbox/pay-sheet", pay_sheet, methods=["GET"]),
        Route("/_sandbox/pay-sheet", submit, methods=["POST"]),
        Route("/_sandbox/checkmweb", checkmweb, methods=["GET"]),
        Route("/_sandbox/scan", scan, methods=["GET"]),
        Route("/_sandbox/", log, methods=["GET"]),
        Route("/_sandbox/log", log, methods=["GET"]),
        Route("/_sandbox/jsbridge.js", jsbridge, methods=["GET"]),
    ]
