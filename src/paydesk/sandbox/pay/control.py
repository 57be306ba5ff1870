"""The Pay control API (JSON) for tests, tools and people.

    POST   /_sandbox/pay             {"prepay_id"|"code_url"|"h5_url", "result", "openid"?, …}
    GET    /_sandbox/prepay-info?prepay_id=…   amount and description (for pay sheets)
    GET    /_sandbox/notifications?out_trade_no=…   every delivery attempt of that order
    GET    /_sandbox/faults          POST /_sandbox/faults {rule | "rules": […]}
    DELETE /_sandbox/faults[?id=N]
    POST   /_sandbox/refund-outcome  {"out_refund_no", "status": "SUCCESS"|"ABNORMAL"|"CLOSED"}
    GET    /_sandbox/orders[?mchid=…&out_trade_no=…]
    GET    /_sandbox/pay-settings    POST /_sandbox/pay-settings {"refund_delay_seconds"?, …}

Errors are ``{"code", "message"}`` with a 4xx status; the payer's refusals add ``err_msg``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from paydesk.sandbox.http import error_body, read_json
from paydesk.sandbox.pay.model import RefundState, order_summary, yuan
from paydesk.sandbox.pay.payer import parse_pay_request, pay
from paydesk.sandbox.pay.refusals import Refusal

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["routes"]

_CORS = {"Access-Control-Allow-Origin": "*"}
_OUTCOMES: dict[object, RefundState] = {s: s for s in ("SUCCESS", "ABNORMAL", "CLOSED")}
_SETTINGS = {"refund_delay_seconds": 86400.0 * 365, "notify_timeout_seconds": 60.0}


def _refused(refusal: Refusal, headers: dict[str, str] | None = None) -> JSONResponse:
    body = error_body(refusal.code, refusal.message)
    if refusal.err_msg is not None:
        body["err_msg"] = refusal.err_msg
    return JSONResponse(body, refusal.status, headers=headers)


def _bad(message: str) -> JSONResponse:
    return JSONResponse(error_body("PARAM_ERROR", message), 400)


def routes(world: PayWorld) -> list[BaseRoute]:
    """The control routes bound to ``world``."""

    async def pay_endpoint(request: Request) -> JSONResponse:
        data, problem = await read_json(request)
        if data is None:
            return JSONResponse(error_body("PARAM_ERROR", problem or ""), 400, headers=_CORS)
        try:
            return JSONResponse(pay(world, parse_pay_request(data)), headers=_CORS)
        except Refusal as refusal:
            return _refused(refusal, _CORS)

    async def prepay_info(request: Request) -> JSONResponse:
        order = world.book.by_prepay(request.query_params.get("prepay_id", ""), world.now())
        if order is None:
            return JSONResponse(error_body("ORDER_NOT_EXIST", "订单不存在"), 404, headers=_CORS)
        draft = order.draft
        info = {
            "mchid": draft.mchid,
            "appid": draft.appid,
            "out_trade_no": draft.out_trade_no,
            "description": draft.description,
            "total": draft.total,
            "amount_yuan": yuan(draft.total),
            "trade_state": order.state,
        }
        return JSONResponse(info, headers=_CORS)

    async def notifications(request: Request) -> JSONResponse:
        number = request.query_params.get("out_trade_no")
        mchid = request.query_params.get("mchid")
        chosen = [
            d
            for d in world.dispatcher.deliveries
            if (number is None or d.out_trade_no == number) and (mchid is None or d.mchid == mchid)
        ]
        attempts: list[dict[str, Any]] = []
        for delivery in chosen:
            for attempt in delivery.attempts:
                attempts.append(
                    attempt.view()
                    | {
                        "delivery_id": delivery.id,
                        "event_id": delivery.event_id,
                        "event_type": delivery.event_type,
                        "out_trade_no": delivery.out_trade_no,
                        "out_refund_no": delivery.out_refund_no,
                    }
                )
        attempts.sort(key=lambda a: (a["at"], a["delivery_id"]))
        views = [d.view() for d in chosen]
        return JSONResponse({"deliveries": views, "attempts": attempts})

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            rule_id = request.query_params.get("id")
            if rule_id is None:
                world.faults.clear()
            elif not (rule_id.isdigit() and world.faults.remove(int(rule_id))):
                return JSONResponse(error_body("NOT_FOUND", f"no fault rule {rule_id}"), 404)
        elif request.method == "POST":
            data, problem = await read_json(request)
            if data is None:
                return _bad(problem or "")
            items = data.get("rules", [data])
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return _bad('send one rule {"kind", …} or {"rules": [rule, …]}')
            try:
                added = world.faults.add_all(items)
            except ValueError as exc:
                return _bad(str(exc))
            return JSONResponse({"added": [r.view() for r in added], "rules": _rules(world)})
        return JSONResponse({"rules": _rules(world)})

    async def refund_outcome(request: Request) -> JSONResponse:
        data, problem = await read_json(request)
        if data is None:
            return _bad(problem or "")
        number, status = data.get("out_refund_no"), _OUTCOMES.get(data.get("status"))
        if not isinstance(number, str) or not number or status is None:
            return _bad("give out_refund_no and status SUCCESS, ABNORMAL or CLOSED")
        found = world.book.find_refunds(number)
        if data.get("mchid") is not None:
            found = [r for r in found if r.mchid == data["mchid"]]
        if len(found) > 1:
            return _bad("several merchants have this out_refund_no: give mchid")
        if not found:
            world.book.arm(number, status)
            return JSONResponse({"out_refund_no": number, "status": status, "applied": "armed"})
        refund = found[0]
        if refund.status != "PROCESSING":
            return JSONResponse(
                error_body("INVALID_REQUEST", f"refund is {refund.status} already"), 409
            )
        delivery = world.settle_refund(refund, status)
        answer = {"out_refund_no": number, "status": status, "applied": "now"}
        return JSONResponse(answer | {"notification": delivery.view()})

    async def orders(request: Request) -> JSONResponse:
        mchid = request.query_params.get("mchid")
        number = request.query_params.get("out_trade_no")
        world.settle_due_refunds()
        listed = [
            order_summary(o, world.book.refunds_of(o))
            for o in world.book.orders()
            if (mchid is None or o.draft.mchid == mchid)
            and (number is None or o.draft.out_trade_no == number)
        ]
        return JSONResponse({"orders": listed})

    async def settings(request: Request) -> JSONResponse:
        if request.method == "POST":
            data, problem = await read_json(request)
            if data is None:
                return _bad(problem or "")
            for name, value in data.items():
                top = _SETTINGS.get(name)
                if top is None:
                    return _bad(f"unknown setting {name}")
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return _bad(f"{name} must be a number")
                if not 0 <= value <= top:
                    return _bad(f"{name} must be between 0 and {top:g}")
            world.refund_delay_seconds = float(
                data.get("refund_delay_seconds", world.refund_delay_seconds)
            )
            world.dispatcher.timeout_seconds = float(
                data.get("notify_timeout_seconds", world.dispatcher.timeout_seconds)
            )
        return JSONResponse(
            {
                "refund_delay_seconds": world.refund_delay_seconds,
                "notify_timeout_seconds": world.dispatcher.timeout_seconds,
            }
        )

    return [
        Route("/_sandbox/pay", pay_endpoint, methods=["POST"]),
        Route("/_sandbox/prepay-info", prepay_info, methods=["GET"]),
        Route("/_sandbox/notifications", notifications, methods=["GET"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/refund-outcome", refund_outcome, methods=["POST"]),
        Route("/_sandbox/orders", orders, methods=["GET"]),
        Route("/_sandbox/pay-settings", settings, methods=["GET", "POST"]),
    ]


def _rules(world: PayWorld) -> list[dict[str, Any]]:
    return [rule.view() for rule in world.faults.rules]
