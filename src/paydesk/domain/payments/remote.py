"""What paydesk asks WeChat about one payment attempt: prepay, query, close — v3 or v2.

Client errors are mapped here, once, into domain errors. A prepay whose answer was lost
(:class:`~paydesk.client.OutcomeUnknown`) is asked again with the *identical* parameters and
the *same* ``out_trade_no`` — WeChat's documented re-entry, which returns the existing prepay
instead of creating a second order — never under a new number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from paydesk import client
from paydesk.db.enums import ApiVersion, PaymentChannel
from paydesk.db.models import Order, Payment
from paydesk.domain.errors import UpstreamFailed
from paydesk.domain.payments.reports import from_v2_query, from_v3
from paydesk.domain.payments.settle import TradeReport
from paydesk.protocol import times
from paydesk.protocol.v3.models import Amount, H5Info, Payer, PrepayRequest, SceneInfo

if TYPE_CHECKING:
    from paydesk.domain.context import Services

V3_KIND: dict[PaymentChannel, Literal["jsapi", "app", "h5", "native"]] = {
    PaymentChannel.MINIPROGRAM: "jsapi",
    PaymentChannel.JSAPI: "jsapi",
    PaymentChannel.APP: "app",
    PaymentChannel.H5: "h5",
    PaymentChannel.NATIVE: "native",
}
V2_TRADE_TYPE = {
    PaymentChannel.MINIPROGRAM: "JSAPI",
    PaymentChannel.JSAPI: "JSAPI",
    PaymentChannel.APP: "APP",
    PaymentChannel.H5: "MWEB",
    PaymentChannel.NATIVE: "NATIVE",
}
PAID_CODES = frozenset({"ORDER_PAID", "ORDERPAID"})
CLOSED_CODES = frozenset({"ORDER_CLOSED", "ORDERCLOSED"})
UNKNOWN_CODES = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS"})


@dataclass(frozen=True)
class PrepayAsk:
    """Everything one prepay sends; equal asks are WeChat re-entries."""

    order: Order
    channel: PaymentChannel
    version: ApiVersion
    appid: str
    out_trade_no: str
    openid: str | None
    client_ip: str | None
    h5_type: Literal["Wap", "iOS", "Android"]


@dataclass(frozen=True)
class PrepayAnswer:
    """What WeChat gave back: one of prepay_id, code_url, h5_url."""

    prepay_id: str | None = None
    code_url: str | None = None
    h5_url: str | None = None


def upstream(exc: client.WeChatError) -> UpstreamFailed:
    """The domain error for a client error (codes kept; retryable when trying later may work)."""
    if isinstance(exc, client.WeChatApiError):
        return UpstreamFailed(
            f"wechat_{(exc.code or 'error').lower()}",
            f"WeChat answered {exc.code}: {exc.message}",
            retryable=exc.retryable,
            wechat_code=exc.code,
        )
    if isinstance(exc, client.OutcomeUnknown):
        return UpstreamFailed(
            "wechat_no_answer", "WeChat did not answer in time; retry", retryable=True
        )
    if isinstance(exc, client.ResponseNotVerified):
        return UpstreamFailed(
            "wechat_unverified",
            "an answer claiming to be WeChat's failed its signature check",
            retryable=True,
        )
    return UpstreamFailed(
        "wechat_unreachable", f"WeChat could not be reached: {exc}", retryable=True
    )


def code_of(exc: client.WeChatError) -> str | None:
    """WeChat's error code, if it sent one."""
    return exc.code if isinstance(exc, client.WeChatApiError) else None


class TradeFinished(Exception):
    """WeChat refused a prepay because the trade number is already ``paid`` or ``closed``."""

    def __init__(self, state: Literal["paid", "closed"]) -> None:
        super().__init__(f"WeChat says this trade is already {state}")
        self.state = state


async def prepay(services: Services, ask: PrepayAsk) -> PrepayAnswer:
    """Ask WeChat for a prepay; one re-entry with identical parameters if the answer was lost.

    Raises :class:`TradeFinished` when WeChat reports the trade paid or closed, and
    :class:`UpstreamFailed` for anything else WeChat (or the network) did wrong.
    """
    try:
        try:
            return await _prepay_once(services, ask)
        except client.OutcomeUnknown:
            return await _prepay_once(services, ask)  # re-entry: same number, same parameters
    except client.WeChatError as exc:
        code = code_of(exc)
        if code in PAID_CODES:
            raise TradeFinished("paid") from exc
        if code in CLOSED_CODES:
            raise TradeFinished("closed") from exc
        raise upstream(exc) from exc


async def _prepay_once(services: Services, ask: PrepayAsk) -> PrepayAnswer:
    if ask.version == ApiVersion.V3:
        return await _prepay_v3(services, ask)
    return await _prepay_v2(services, ask)


async def _prepay_v3(services: Services, ask: PrepayAsk) -> PrepayAnswer:
    order = ask.order
    scene = None
    if ask.channel == PaymentChannel.H5:
        scene = SceneInfo(
            payer_client_ip=ask.client_ip or "127.0.0.1", h5_info=H5Info(type=ask.h5_type)
        )
    elif ask.client_ip:
        scene = SceneInfo(payer_client_ip=ask.client_ip)
    request = PrepayRequest(
        appid=ask.appid,
        mchid=order.mchid,
        description=order.description,
        out_trade_no=ask.out_trade_no,
        time_expire=times.to_rfc3339_beijing(order.expires_at),
        attach=order.attach,
        notify_url=services.registry.notify_url(order.mchid, "v3"),
        amount=Amount(total=order.amount),
        payer=Payer(openid=ask.openid) if ask.openid else None,
        scene_info=scene,
    )
    answer = await services.wechat.pay_v3(order.mchid).prepay(V3_KIND[ask.channel], request)
    return PrepayAnswer(answer.prepay_id, answer.code_url, answer.h5_url)


async def _prepay_v2(services: Services, ask: PrepayAsk) -> PrepayAnswer:
    order = ask.order
    fields: dict[str, str | int | None] = {
        "appid": ask.appid,
        "body": order.description,
        "out_trade_no": ask.out_trade_no,
        "total_fee": order.amount,
        "spbill_create_ip": ask.client_ip or "127.0.0.1",
        "notify_url": services.registry.notify_url(order.mchid, "v2"),
        "trade_type": V2_TRADE_TYPE[ask.channel],
        "openid": ask.openid,
        "time_expire": times.to_v2_time(order.expires_at),
        "attach": order.attach,
        "product_id": order.id if ask.channel == PaymentChannel.NATIVE else None,
        "scene_info": json.dumps({"h5_info": {"type": ask.h5_type}})
        if ask.channel == PaymentChannel.H5
        else None,
    }
    reply = await services.wechat.pay_v2(order.mchid).unified_order(
        {k: v for k, v in fields.items() if v is not None}
    )
    return PrepayAnswer(reply.prepay_id, reply.code_url, reply.mweb_url)


async def query(services: Services, payment: Payment) -> TradeReport | None:
    """WeChat's word on one attempt; None if WeChat has never heard of its trade number."""
    try:
        if payment.api_version == ApiVersion.V3:
            found = await services.wechat.pay_v3(payment.mchid).query_by_out_trade_no(
                payment.out_trade_no
            )
            return from_v3(found)
        reply = await services.wechat.pay_v2(payment.mchid).order_query(
            payment.appid, out_trade_no=payment.out_trade_no
        )
        return from_v2_query(reply, mchid=payment.mchid, appid=payment.appid)
    except client.WeChatError as exc:
        if code_of(exc) in UNKNOWN_CODES:
            return None
        raise upstream(exc) from exc


async def close(services: Services, payment: Payment) -> Literal["closed", "paid"]:
    """Close one attempt at WeChat: ``paid`` if WeChat says it was paid meanwhile."""
    try:
        if payment.api_version == ApiVersion.V3:
            await services.wechat.pay_v3(payment.mchid).close(payment.out_trade_no)
        else:
            await services.wechat.pay_v2(payment.mchid).close_order(
                payment.appid, payment.out_trade_no
            )
    except client.WeChatError as exc:
        code = code_of(exc)
        if code in PAID_CODES:
            return "paid"
        if code in CLOSED_CODES or code in UNKNOWN_CODES:
            return "closed"
        raise upstream(exc) from exc
    return "closed"
