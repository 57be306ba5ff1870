"""The simulated payer: pays, cancels or fails a prepay, checking what WeChat's client checks.

One code path for ``POST /_sandbox/pay``, the pay sheets (pay sheet, ``checkmweb``, Native
landing) and the ``WeixinJSBridge`` stand-in. The order is found by ``prepay_id``, ``code_url``
or ``h5_url``. A ``pay_sign`` is checked exactly as the client would (v3: SHA256withRSA over
``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` with the merchant's public key; v2: MD5 or
HMAC-SHA256 with the order's sign type) and a wrong one is refused with WeChat's
"支付验证签名失败". For JSAPI orders a given ``openid`` must be the prepay's payer.

Paying SUCCESS marks the order paid and queues its notification; CANCEL and FAIL leave the
order ``NOTPAY`` (basic payments have no failure notification).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from paydesk.protocol.errors import ProtocolError, UnsupportedSignatureType
from paydesk.protocol.v2.pay_params import verify_pay_sign_v2
from paydesk.protocol.v3.pay_params import verify_pay_sign
from paydesk.sandbox.pay.model import Order
from paydesk.sandbox.pay.refusals import Refusal, order_closed, order_paid

if TYPE_CHECKING:
    from paydesk.sandbox.pay import PayWorld

__all__ = ["CODE_URL_PREFIX", "PayRequest", "client_message", "parse_pay_request", "pay"]

PayResult = Literal["SUCCESS", "CANCEL", "FAIL"]
#: What every Native ``code_url`` starts with.
CODE_URL_PREFIX = "weixin://wxpay/bizpayurl?pr="
_RESULTS: dict[object, PayResult] = {"SUCCESS": "SUCCESS", "CANCEL": "CANCEL", "FAIL": "FAIL"}
_TEXT_FIELDS = ("prepay_id", "code_url", "h5_url", "openid", "pay_sign", "nonce_str", "sign_type")
_SIGN_FAILED = "支付验证签名失败"
_OPENID_MISMATCH = "下单账号与支付账号不一致，请核实后再支付"


@dataclass(frozen=True)
class PayRequest:
    """What the payer is asked to do."""

    result: PayResult
    prepay_id: str | None = None
    code_url: str | None = None
    h5_url: str | None = None
    openid: str | None = None
    pay_sign: str | None = None
    timestamp: str | None = None
    nonce_str: str | None = None
    sign_type: str | None = None


def parse_pay_request(data: dict[str, Any]) -> PayRequest:
    """Validate the JSON of ``POST /_sandbox/pay``; ``PARAM_ERROR`` says what is wrong.

    >>> parse_pay_request({"code_url": "weixin://wxpay/bizpayurl?pr=Ab3dE9x"}).result
    'SUCCESS'
    """
    result = _RESULTS.get(data.get("result", "SUCCESS"))
    if result is None:
        raise Refusal("PARAM_ERROR", "result must be SUCCESS, CANCEL or FAIL")
    texts: dict[str, str | None] = {}
    for name in _TEXT_FIELDS:
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or not value or len(value) > 2048):
            raise Refusal("PARAM_ERROR", f"{name} must be a non-empty string")
        texts[name] = value
    timestamp = data.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if timestamp is not None and not (isinstance(timestamp, str) and timestamp.isdigit()):
        raise Refusal("PARAM_ERROR", "timestamp must be Unix seconds")
    if sum(texts[name] is not None for name in ("prepay_id", "code_url", "h5_url")) != 1:
        raise Refusal("PARAM_ERROR", "give exactly one of prepay_id, code_url and h5_url")
    return PayRequest(result=result, timestamp=timestamp, **texts)


def client_message(world: PayWorld, order: Order | None, outcome: str, detail: str = "") -> str:
    """The ``err_msg`` the merchant's page would see (``requestPayment:…`` and so on)."""
    kind = world.merchants.app_type(order.draft.appid) if order is not None else None
    jsapi = order is not None and order.draft.trade_type == "JSAPI"
    if jsapi and kind == "official_account":
        return f"get_brand_wcpay_request:{outcome}"
    prefix = "requestPayment:" if jsapi else ""
    if outcome == "ok":
        return prefix + "ok"
    if outcome == "cancel":
        return prefix + ("fail cancel" if jsapi else "cancel")
    return prefix + (f"fail {detail}".strip() if jsapi else "fail")


def _refuse(world: PayWorld, order: Order | None, refusal: Refusal) -> Refusal:
    refusal.err_msg = client_message(world, order, "fail", refusal.message)
    return refusal


def _find(world: PayWorld, request: PayRequest) -> Order:
    now = world.now()
    order: Order | None = None
    if request.prepay_id is not None:
        order = world.book.by_prepay(request.prepay_id, now)
    elif request.code_url is not None:
        if request.code_url.startswith(CODE_URL_PREFIX):
            order = world.book.by_code(request.code_url.removeprefix(CODE_URL_PREFIX), now)
    else:  # exactly one of the three is given (parse_pay_request)
        query = parse_qs(urlsplit(request.h5_url or "").query)
        order = world.book.by_prepay((query.get("prepay_id") or [""])[0], now)
        if order is not None and (query.get("package") or [""])[0] != order.h5_package:
            order = None
    if order is None:
        raise _refuse(world, None, Refusal("ORDER_NOT_EXIST", "订单不存在", status=404))
    return order


def _check_sign(world: PayWorld, order: Order, request: PayRequest) -> None:
    draft = order.draft
    if request.pay_sign is None:
        return
    if draft.trade_type not in ("JSAPI", "APP"):
        raise Refusal("PARAM_ERROR", "pay_sign applies to JSAPI and APP payments only")
    if request.timestamp is None or request.nonce_str is None:
        raise Refusal("PARAM_ERROR", "pay_sign needs timestamp and nonce_str")
    merchant = world.merchants.require(draft.mchid)
    pinned = draft.sign_type or "RSA"
    if draft.trade_type == "JSAPI":
        params = {
            "appId": draft.appid,
            "timeStamp": request.timestamp,
            "nonceStr": request.nonce_str,
            "package": f"prepay_id={request.prepay_id or order.prepay_id}",
            "signType": request.sign_type or pinned,
            "paySign": request.pay_sign,
        }
    else:
        params = {
            "appid": draft.appid,
            "partnerid": draft.mchid,
            "prepayid": request.prepay_id or order.prepay_id,
            "package": "Sign=WXPay",
            "noncestr": request.nonce_str,
            "timestamp": request.timestamp,
            "sign": request.pay_sign,
        }
    try:
        if draft.sign_type is None:
            if request.sign_type not in (None, "RSA"):
                raise UnsupportedSignatureType(f"signType {request.sign_type} on a v3 order")
            verify_pay_sign(params, merchant.merchant_public_key)
        else:
            verify_pay_sign_v2(params, merchant.v2_key, draft.sign_type)
    except ProtocolError as exc:
        raise Refusal("SIGN_ERROR", _SIGN_FAILED) from exc


def pay(world: PayWorld, request: PayRequest) -> dict[str, Any]:
    """Act as the payer; returns the outcome and the notification it queued (if any)."""
    order = _find(world, request)
    now, draft = world.now(), order.draft
    try:
        if order.paid:
            raise order_paid()
        if order.state == "CLOSED":
            raise order_closed()
        if request.prepay_id is not None and request.prepay_id != order.prepay_id:
            raise Refusal("PREPAY_EXPIRED", "prepay_id已失效，请重新下单")
        if now >= order.prepay_expires_at:
            raise Refusal("PREPAY_EXPIRED", "prepay_id已失效，请重新下单")
        if request.h5_url is not None and order.h5_expires_at and now >= order.h5_expires_at:
            raise Refusal("PREPAY_EXPIRED", "支付链接已失效 (h5_url expires after 5 minutes)")
        _check_sign(world, order, request)
        if draft.trade_type == "JSAPI" and request.openid not in (None, draft.payer_openid):
            raise Refusal("OPENID_MISMATCH", _OPENID_MISMATCH)
    except Refusal as refusal:
        raise _refuse(world, order, refusal) from None
    answer: dict[str, Any] = {
        "result": request.result,
        "mchid": draft.mchid,
        "out_trade_no": draft.out_trade_no,
        "notification": None,
    }
    if request.result != "SUCCESS":
        what = "cancelled" if request.result == "CANCEL" else "failed"
        order.history.append((now, f"payer {what} the payment (stays NOTPAY)"))
        outcome = "cancel" if request.result == "CANCEL" else "fail"
        detail = "" if request.result == "CANCEL" else "支付失败"
        return answer | {
            "err_msg": client_message(world, order, outcome, detail),
            "trade_state": order.state,
        }
    openid = request.openid or draft.payer_openid or world.ids.openid()
    world.book.mark_paid(order, openid, now)
    delivery = world.notify_payment(order)
    return answer | {
        "err_msg": client_message(world, order, "ok"),
        "trade_state": order.state,
        "transaction_id": order.transaction_id,
        "openid": openid,
        "notification": {
            "id": delivery.id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "url": delivery.url,
            "due_at": delivery.due_at.isoformat() if delivery.due_at else None,
        },
    }
