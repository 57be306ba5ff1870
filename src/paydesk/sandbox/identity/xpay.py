"""The mini program client paying by virtual payment: ``POST /_sandbox/virtual-pay``.

What ``wx.requestVirtualPayment`` does on a phone, emulated (PROTOCOL.md §4.7): the client
sends ``signData``, ``paySig``, ``signature`` and ``mode`` as the merchant's server made them,
logged in as a user of the app; WeChat checks them, the user pays, and WeChat tells the
merchant with the message push ``xpay_goods_deliver_notify`` (:mod:`paydesk.protocol.messages.xpay`)
— the only confirmation of a virtual payment.

Checked as WeChat would (first failure answers, as the ``fail`` callback's
``{"errMsg", "errCode"}`` with HTTP 400):

* ``signData``: a JSON object with ``offerId``, ``buyQuantity`` ≥ 1, ``env`` 0 or 1,
  ``currencyType`` ``CNY``, ``productId``, ``goodsPrice`` (whole fen), ``outTradeNo``
  (8–32 of ``[0-9A-Za-z_-|*@]``, not starting with ``_``) and ``attach``; ``mode``
  ``short_series_goods`` (the only mode emulated) → else ``-1``;
* the user's ``session_key`` — the last one ``jscode2session`` issued for (appid, openid) →
  ``268490009`` when there is none;
* ``paySig`` = HMAC-SHA256(AppKey, ``requestVirtualPayment&`` + signData), then ``signature``
  = HMAC-SHA256(session_key, signData) → ``268490003``;
* an ``outTradeNo`` this app was paid under already → ``268490004``.

Then the push is queued on the pay notifications' dispatcher: sent at once to the app's push
URL (``PUT /_sandbox/push-url``), safe mode and XML unless ``push_mode`` / ``format`` say
otherwise, and again on WeChat's schedule (15s/15s/30s/3m/…/6h, virtual time) until the
answer is HTTP 200 ``{"ErrCode": 0}``. Each attempt is sealed anew — fresh timestamp and
nonce, ``RetryTimes`` counting the earlier attempts — since the merchant checks the timestamp.
"""

from __future__ import annotations

import hmac
import json
import re
import string
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.protocol.messages import (
    GOODS_DELIVER_EVENT,
    GoodsDeliverNotify,
    goods_deliver_fields,
    render_push,
)
from paydesk.protocol.virtual_payment import CLIENT_URI, pay_sig, user_signature
from paydesk.sandbox.http import read_json
from paydesk.sandbox.identity.login import MiniProgramLogin
from paydesk.sandbox.identity.push import CONTENT_TYPES, Pushes
from paydesk.sandbox.identity.push_build import FORMATS, MODES, original_id, seal_push
from paydesk.sandbox.identity.push_delivery import with_query
from paydesk.sandbox.identity.wxapi import control_error
from paydesk.sandbox.pay.records import Delivery

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox
    from paydesk.sandbox.credentials import AppCredentials

#: errCode → errMsg of the refusals (268490xxx: WeChat's virtual-payment codes; -1: ours).
ERRORS = {
    -1: "invalid param",
    268490003: "签名错误 signature error",
    268490004: "重复操作 outTradeNo already paid",
    268490009: "session_key expired or missing: wx.login again",
}
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z\-|*@][0-9A-Za-z_\-|*@]{7,31}")


class Refused(Exception):
    """What the client's ``fail`` callback gets."""

    def __init__(self, errcode: int, detail: str) -> None:
        super().__init__(detail)
        self.errcode = errcode
        self.detail = detail

    def response(self) -> JSONResponse:
        """``{"errMsg": "requestVirtualPayment:fail …", "errCode"}``, HTTP 400."""
        message = f"requestVirtualPayment:fail {ERRORS[self.errcode]}: {self.detail}"
        return JSONResponse({"errMsg": message, "errCode": self.errcode}, status_code=400)


def _whole(value: object, *, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def parse_sign_data(text: str, mode: object) -> dict[str, Any]:
    """The ``signData`` object, when it is one WeChat would take; :class:`Refused` otherwise.

    >>> parse_sign_data('{"offerId":"1","buyQuantity":1,"env":1,"currencyType":"CNY",'
    ...     '"productId":"p","goodsPrice":5,"outTradeNo":"T0000001","attach":""}',
    ...     "short_series_goods")["goodsPrice"]
    5
    """
    if mode != "short_series_goods":
        raise Refused(-1, "mode must be short_series_goods (the only mode emulated)")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise Refused(-1, "signData must be a JSON object, as a string")
    checks = {
        "offerId": isinstance(data.get("offerId"), str) and bool(data.get("offerId")),
        "buyQuantity": _whole(data.get("buyQuantity"), least=1),
        "env": data.get("env") in (0, 1) and not isinstance(data.get("env"), bool),
        "currencyType": data.get("currencyType") == "CNY",
        "productId": isinstance(data.get("productId"), str) and bool(data.get("productId")),
        "goodsPrice": _whole(data.get("goodsPrice"), least=1),
        "outTradeNo": isinstance(data.get("outTradeNo"), str)
        and _OUT_TRADE_NO.fullmatch(data["outTradeNo"]) is not None,
        "attach": isinstance(data.get("attach"), str),
    }
    wrong = [name for name, ok in checks.items() if not ok]
    if wrong:
        raise Refused(-1, f"signData has a missing or invalid {', '.join(wrong)}")
    return data


class VirtualPayments:
    """``POST /_sandbox/virtual-pay`` and the trade numbers paid so far."""

    def __init__(self, sandbox: Sandbox, login: MiniProgramLogin, pushes: Pushes) -> None:
        self.sandbox = sandbox
        self.login = login
        self.pushes = pushes
        self._paid: dict[tuple[str, str], GoodsDeliverNotify] = {}

    def reset(self) -> None:
        """Forget what was paid."""
        self._paid.clear()

    def routes(self) -> list[BaseRoute]:
        """The one control route."""
        return [Route("/_sandbox/virtual-pay", self.virtual_pay, methods=["POST"])]

    async def virtual_pay(self, request: Request) -> Response:
        """``{"appid", "openid", "signData", "paySig", "signature", "mode", "push_mode"?,
        "format"?}`` → ``{"errMsg": "requestVirtualPayment:ok", "event", "delivery"}``."""
        data, problem = await read_json(request)
        if data is None:
            return control_error(problem or "")
        appid, openid = data.get("appid"), data.get("openid")
        app = self.sandbox.credentials.app(appid) if isinstance(appid, str) else None
        if app is None or app.type != "miniprogram":
            return control_error(f"{appid!r} is not a sandbox mini program", 404)
        push_mode, fmt = data.get("push_mode", "safe"), data.get("format", "xml")
        if push_mode not in MODES or fmt not in FORMATS:
            return control_error("push_mode must be plain, compatible or safe; format xml or json")
        url = self.pushes.url_for(app.appid)
        if url is None:
            return control_error(f"no push URL for {app.appid}: PUT /_sandbox/push-url first", 409)
        try:
            event = self._check(app, openid, data)
        except Refused as refused:
            return refused.response()
        self._paid[(app.appid, event.out_trade_no)] = event
        delivery = self._deliver(app, event, url, push_mode, fmt)
        return JSONResponse(
            {
                "errMsg": "requestVirtualPayment:ok",
                "event": goods_deliver_fields(event),
                "delivery": delivery.view(),
            }
        )

    def _check(
        self, app: AppCredentials, openid: object, data: dict[str, Any]
    ) -> GoodsDeliverNotify:
        """The push a good request leads to; :class:`Refused` as WeChat's client would."""
        sign_data = data.get("signData")
        if not isinstance(sign_data, str):
            raise Refused(-1, "signData must be a JSON object, as a string")
        fields = parse_sign_data(sign_data, data.get("mode"))
        session_key = self.login.session_key(app.appid, openid) if isinstance(openid, str) else None
        if session_key is None:
            raise Refused(268490009, f"no session for openid {openid!r} of {app.appid}")
        expected = pay_sig(app.virtual_pay_app_key, CLIENT_URI, sign_data)
        if not hmac.compare_digest(expected, str(data.get("paySig", ""))):
            raise Refused(268490003, "paySig does not match signData under the app's AppKey")
        expected = user_signature(session_key, sign_data)
        if not hmac.compare_digest(expected, str(data.get("signature", ""))):
            raise Refused(268490003, "signature does not match signData under the session_key")
        if (app.appid, fields["outTradeNo"]) in self._paid:
            raise Refused(268490004, f"outTradeNo {fields['outTradeNo']} was paid already")
        now = self.sandbox.clock.now()
        total = fields["goodsPrice"] * fields["buyQuantity"]
        return GoodsDeliverNotify(
            to_user=original_id(app.appid),
            from_user=str(openid),
            create_time=int(now.timestamp()),
            openid=str(openid),
            out_trade_no=fields["outTradeNo"],
            env=fields["env"],
            mch_order_no="xpay" + self.sandbox.random_string(24, string.digits),
            transaction_id=self.sandbox.pay.ids.transaction_id(now),
            paid_time=int(now.timestamp()),
            product_id=fields["productId"],
            quantity=fields["buyQuantity"],
            orig_price=total,
            actual_price=total,
            attach=fields["attach"],
        )

    def _deliver(
        self, app: AppCredentials, event: GoodsDeliverNotify, url: str, push_mode: Any, fmt: Any
    ) -> Delivery:
        def reseal(number: int) -> tuple[str, bytes]:
            fields = goods_deliver_fields(replace(event, retry_times=number - 1))
            sealed = seal_push(
                app,
                fields,
                mode=push_mode,
                fmt=fmt,
                timestamp=str(int(self.sandbox.clock.wall().timestamp())),
                nonce=self.sandbox.random_string(10, string.digits),
                random16=self.sandbox.rng.randbytes(16),
            )
            return with_query(url, sealed.query), sealed.body

        return self.sandbox.pay.dispatcher.enqueue(
            Delivery(
                event_id=f"xpay-{event.mch_order_no}",
                event_type=GOODS_DELIVER_EVENT,
                api="xpay",
                mchid="",
                out_trade_no=event.out_trade_no,
                url=url,
                body=render_push(goods_deliver_fields(event), fmt),
                content_type=CONTENT_TYPES[fmt],
                signer=None,
                created_at=self.sandbox.clock.now(),
                reseal=reseal,
            )
        )
