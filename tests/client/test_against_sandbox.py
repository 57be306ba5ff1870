"""The client against the real sandbox, in-process and mounted at ``/sandbox``: every call
round-trips in both merchant modes and in v2, and under the sandbox's faults the client never
creates a second order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from paydesk.client import (
    AppAccount,
    Endpoints,
    LoginError,
    NotFound,
    OutcomeUnknown,
    PayV3Client,
    Refused,
    UpstreamUnavailable,
    WeChatClient,
)
from paydesk.protocol.times import BEIJING
from paydesk.protocol.v2.notify import NOTIFY_SUCCESS_XML
from paydesk.protocol.v3.models import (
    Amount,
    H5Info,
    Payer,
    PrepayRequest,
    RefundAmountRequest,
    RefundRequest,
    SceneInfo,
)
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.credentials import (
    DEFAULT_MINIPROGRAM_APPID,
    DEFAULT_OFFICIAL_ACCOUNT_APPID,
)
from tests.client.doubles import merchant_account
from tests.serving import ServerThread

BASE = "http://host.test/sandbox"
NOTIFY = "https://merchant.test/notify"


@pytest.fixture(scope="module")
def credentials() -> SandboxCredentials:
    return SandboxCredentials.generate()


async def merchant_endpoint(request: Request) -> Response:
    """The merchant's side: acknowledge every notification and push."""
    if "/v2" in request.url.path:
        return Response(NOTIFY_SUCCESS_XML, media_type="text/xml")
    return Response(status_code=204)


@pytest.fixture
async def sandbox(credentials: SandboxCredentials) -> AsyncIterator[Sandbox]:
    merchant = Starlette(routes=[Route("/{path:path}", merchant_endpoint, methods=["GET", "POST"])])
    async with Sandbox(credentials, transport=httpx.ASGITransport(app=merchant), seed=7) as box:
        yield box


@pytest.fixture
def host(sandbox: Sandbox) -> Starlette:
    """The sandbox mounted at /sandbox, as ``paydesk serve`` mounts it."""
    return Starlette(routes=[Mount("/sandbox", app=sandbox.asgi())])


@pytest.fixture
async def control(host: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url=BASE) as http:
        yield http


@pytest.fixture
async def client(credentials: SandboxCredentials, host: Starlette) -> AsyncIterator[WeChatClient]:
    public_key, certificate = credentials.merchants
    apps = [AppAccount(a.appid, a.secret) for a in credentials.apps]
    async with WeChatClient(
        merchants=[
            merchant_account(public_key, "MD5"),
            merchant_account(certificate, "HMAC-SHA256"),
        ],
        apps=apps,
        endpoints=Endpoints.sandbox(BASE),
        transport=httpx.ASGITransport(app=host),
        timeout=1.0,
    ) as wechat:
        yield wechat


MCHIDS = pytest.mark.parametrize(
    "mchid", ["1900000001", "1900000002"], ids=["public-key", "certificate"]
)


def prepay_request(mchid: str, out_trade_no: str, *, openid: str | None = None) -> PrepayRequest:
    return PrepayRequest(
        appid=DEFAULT_MINIPROGRAM_APPID,
        mchid=mchid,
        description="paydesk 测试商品",
        out_trade_no=out_trade_no,
        notify_url=f"{NOTIFY}/v3/{mchid}",
        amount=Amount(total=100),
        payer=Payer(openid=openid) if openid else None,
    )


async def login_openid(control: httpx.AsyncClient, appid: str = DEFAULT_MINIPROGRAM_APPID) -> str:
    answer = await control.post("/_sandbox/login-code", json={"appid": appid})
    assert answer.status_code == 200, answer.text
    openid: str = answer.json()["openid"]
    return openid


async def orders_for(control: httpx.AsyncClient, out_trade_no: str) -> list[dict[str, Any]]:
    answer = await control.get("/_sandbox/orders", params={"out_trade_no": out_trade_no})
    orders: list[dict[str, Any]] = answer.json()["orders"]
    return orders


# ---------------------------------------------------------------- Pay v3, both key modes


@MCHIDS
async def test_pay_v3_round_trip(
    client: WeChatClient, control: httpx.AsyncClient, mchid: str
) -> None:
    pay = client.pay_v3(mchid)
    openid = await login_openid(control)
    number = f"RT{mchid}0001"

    prepay = await pay.prepay("jsapi", prepay_request(mchid, number, openid=openid))
    assert prepay.prepay_id
    assert (await pay.query_by_out_trade_no(number)).trade_state == "NOTPAY"

    paid = await control.post(
        "/_sandbox/pay", json={"prepay_id": prepay.prepay_id, "result": "SUCCESS"}
    )
    assert paid.status_code == 200, paid.text
    found = await pay.query_by_out_trade_no(number)
    assert (found.trade_state, found.payer and found.payer.openid) == ("SUCCESS", openid)
    assert found.transaction_id is not None
    by_id = await pay.query_by_transaction_id(found.transaction_id)
    assert by_id.out_trade_no == number

    refund = await pay.refund(
        RefundRequest(
            out_trade_no=number,
            out_refund_no=f"RF{mchid}0001",
            amount=RefundAmountRequest(refund=30, total=100),
        )
    )
    assert refund.status == "PROCESSING"
    assert (await pay.query_refund(refund.out_refund_no)).amount.refund == 30

    with pytest.raises(Refused):
        await pay.close(number)  # paid: refund instead


@MCHIDS
async def test_other_channels_close_and_unknown_orders(
    client: WeChatClient, control: httpx.AsyncClient, mchid: str
) -> None:
    pay = client.pay_v3(mchid)
    native = await pay.prepay("native", prepay_request(mchid, f"NA{mchid}0001"))
    app = await pay.prepay("app", prepay_request(mchid, f"AP{mchid}0001"))
    h5_request = prepay_request(mchid, f"H5{mchid}0001").model_copy(
        update={"scene_info": SceneInfo(payer_client_ip="203.0.113.7", h5_info=H5Info(type="Wap"))}
    )
    h5 = await pay.prepay("h5", h5_request)
    assert native.code_url
    assert native.code_url.startswith("weixin://wxpay/bizpayurl")
    assert app.prepay_id
    assert h5.h5_url
    assert h5.h5_url.startswith(BASE)

    await pay.close(f"NA{mchid}0001")
    await pay.close(f"NA{mchid}0001")  # re-entrant
    assert (await pay.query_by_out_trade_no(f"NA{mchid}0001")).trade_state == "CLOSED"
    with pytest.raises(NotFound):
        await pay.query_by_out_trade_no(f"NO{mchid}0001")


async def test_certificates_in_each_mode(
    client: WeChatClient, credentials: SandboxCredentials
) -> None:
    [downloaded] = await client.pay_v3("1900000002").certificates()
    assert downloaded.serial_no == credentials.merchants[1].platform_certificate_serial
    with pytest.raises(NotFound) as caught:
        await client.pay_v3("1900000001").certificates()
    assert caught.value.code == "RESOURCE_NOT_EXISTS"


@MCHIDS
async def test_trade_bill_lists_the_paid_order(
    client: WeChatClient, control: httpx.AsyncClient, sandbox: Sandbox, mchid: str
) -> None:
    pay = client.pay_v3(mchid)
    prepay = await pay.prepay("native", prepay_request(mchid, f"BL{mchid}0001"))
    await control.post("/_sandbox/pay", json={"code_url": prepay.code_url, "result": "SUCCESS"})
    today = sandbox.clock.now().astimezone(BEIJING).date()
    sandbox.clock.advance(timedelta(days=1).total_seconds())

    bill = await pay.trade_bill(today)

    assert f"BL{mchid}0001".encode() in bill


# ---------------------------------------------------------------- Pay v2, both sign types


@MCHIDS
async def test_pay_v2_round_trip(
    client: WeChatClient, control: httpx.AsyncClient, mchid: str
) -> None:
    v2 = client.pay_v2(mchid)
    number = f"V2{mchid}0001"
    order: dict[str, str | int | None] = {
        "appid": DEFAULT_MINIPROGRAM_APPID,
        "body": "paydesk 测试商品",
        "out_trade_no": number,
        "total_fee": 100,
        "spbill_create_ip": "203.0.113.7",
        "notify_url": f"{NOTIFY}/v2/{mchid}",
        "trade_type": "NATIVE",
        "product_id": "P1",
    }

    created = await v2.unified_order(order)
    assert created.code_url
    assert (
        await v2.order_query(DEFAULT_MINIPROGRAM_APPID, out_trade_no=number)
    ).trade_state == "NOTPAY"
    paid = await control.post(
        "/_sandbox/pay", json={"code_url": created.code_url, "result": "SUCCESS"}
    )
    assert paid.status_code == 200, paid.text
    assert (
        await v2.order_query(DEFAULT_MINIPROGRAM_APPID, out_trade_no=number)
    ).trade_state == "SUCCESS"

    refund = await v2.refund(
        {
            "appid": DEFAULT_MINIPROGRAM_APPID,
            "out_trade_no": number,
            "out_refund_no": f"V2R{mchid}",
            "total_fee": 100,
            "refund_fee": 100,
        }
    )
    assert refund.refund_fee == 100
    refunds = await v2.refund_query(DEFAULT_MINIPROGRAM_APPID, out_refund_no=f"V2R{mchid}")
    assert [r.out_refund_no for r in refunds.refunds] == [f"V2R{mchid}"]
    with pytest.raises(Refused) as caught:
        await v2.close_order(DEFAULT_MINIPROGRAM_APPID, number)
    assert caught.value.code == "ORDERPAID"
    with pytest.raises(NotFound):
        await v2.order_query(DEFAULT_MINIPROGRAM_APPID, out_trade_no="V2NOTHERE01")


# ---------------------------------------------------------------- faults: never a second order


async def add_fault(control: httpx.AsyncClient, rule: dict[str, Any]) -> None:
    answer = await control.post("/_sandbox/faults", json=rule)
    assert answer.status_code == 200, answer.text


async def test_a_timed_out_prepay_is_unknown_and_leaves_exactly_one_order(
    client: WeChatClient, control: httpx.AsyncClient
) -> None:
    await add_fault(
        control, {"kind": "timeout", "path": "/v3/pay/transactions/native", "seconds": 5}
    )
    pay = client.pay_v3("1900000001")

    with pytest.raises(OutcomeUnknown):
        await pay.prepay("native", prepay_request("1900000001", "TO19000000010001"))

    assert len(await orders_for(control, "TO19000000010001")) == 1
    # What the caller does next: query, and the order is there.
    assert (await pay.query_by_out_trade_no("TO19000000010001")).trade_state == "NOTPAY"


async def test_a_5xx_is_retried_with_the_same_out_trade_no(
    client: WeChatClient, control: httpx.AsyncClient
) -> None:
    await add_fault(control, {"kind": "5xx", "path": "/v3/pay/transactions/jsapi", "times": 2})
    openid = await login_openid(control)

    prepay = await client.pay_v3("1900000002").prepay(
        "jsapi", prepay_request("1900000002", "FX19000000020001", openid=openid)
    )

    assert prepay.prepay_id
    [_order] = await orders_for(control, "FX19000000020001")
    rules = (await control.get("/_sandbox/faults")).json()["rules"]
    assert rules[0]["fired"] == 2


async def test_more_5xx_than_retries_raise_and_create_nothing(
    client: WeChatClient, control: httpx.AsyncClient
) -> None:
    await add_fault(control, {"kind": "5xx", "path": "/pay/unifiedorder"})
    order: dict[str, str | int | None] = {
        "appid": DEFAULT_MINIPROGRAM_APPID,
        "body": "x",
        "out_trade_no": "FX19000000010002",
        "total_fee": 1,
        "spbill_create_ip": "203.0.113.7",
        "notify_url": f"{NOTIFY}/v2/1900000001",
        "trade_type": "NATIVE",
    }
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.pay_v2("1900000001").unified_order(order)
    assert caught.value.code == "SYSTEMERROR"
    assert await orders_for(control, "FX19000000010002") == []
    rules = (await control.get("/_sandbox/faults")).json()["rules"]
    assert rules[0]["fired"] == 3  # the first try and two retries


# ---------------------------------------------------------------- login, tokens, OAuth, messages


async def test_login_code_is_single_use(client: WeChatClient, control: httpx.AsyncClient) -> None:
    app = client.app(DEFAULT_MINIPROGRAM_APPID)
    answer = (await control.post("/_sandbox/login-code", json={"appid": app.appid})).json()

    session = await client.login.code_to_session(app, answer["code"])

    assert session.openid == answer["openid"]
    assert session.session_key
    with pytest.raises(LoginError) as caught:
        await client.login.code_to_session(app, answer["code"])
    assert caught.value.errcode == 40163


async def test_oauth_code_token_and_userinfo(
    client: WeChatClient, control: httpx.AsyncClient
) -> None:
    app = client.app(DEFAULT_OFFICIAL_ACCOUNT_APPID)
    answer = await control.post(
        "/_sandbox/oauth-code", json={"appid": app.appid, "scope": "snsapi_userinfo"}
    )
    assert answer.status_code == 200, answer.text

    token = await client.oauth.exchange_code(app, answer.json()["code"])
    refreshed = await client.oauth.refresh(app, token.refresh_token)
    user = await client.oauth.userinfo(refreshed.access_token, token.openid)

    assert token.openid == answer.json()["openid"]
    assert token.scope == "snsapi_userinfo"
    assert user.openid == token.openid
    assert user.nickname


async def test_customer_service_message_with_a_cached_token(
    client: WeChatClient, control: httpx.AsyncClient
) -> None:
    app = client.app(DEFAULT_MINIPROGRAM_APPID)
    openid = await login_openid(control)
    # The user writes to customer service first: that opens WeChat's 48-hour window.
    await control.put(
        "/_sandbox/push-url", json={"appid": app.appid, "url": "https://merchant.test/push"}
    )
    pushed = await control.post(
        "/_sandbox/push",
        json={
            "appid": app.appid,
            "openid": openid,
            "message": {"MsgType": "text", "Content": "hi"},
            "mode": "plain",
            "format": "json",
        },
    )
    assert pushed.status_code == 200, pushed.text

    body = {"touser": openid, "msgtype": "text", "text": {"content": "订单已支付"}}
    await client.messages.send_custom(app, body)
    await client.messages.send_custom(app, body)

    received = (await control.get("/_sandbox/messages", params={"touser": openid})).json()
    assert len(received["messages"]) == 2
    assert (await client.tokens.get(app)) == (
        await client.token_client.stable_token(app)
    ).access_token


async def test_over_real_http_a_timed_out_prepay_is_unknown_too(
    credentials: SandboxCredentials,
) -> None:
    """The same promise over a real socket."""
    box = Sandbox(credentials, seed=8)
    with ServerThread(box.asgi()) as server:
        box.pay.faults.add({"kind": "timeout", "path": "/v3/pay/transactions/native", "seconds": 2})
        account = merchant_account(credentials.merchants[0], "MD5")
        async with httpx.AsyncClient() as http:
            pay = PayV3Client(
                account, endpoints=Endpoints.sandbox(server.base_url), http=http, timeout=0.5
            )
            with pytest.raises(OutcomeUnknown) as caught:
                await pay.prepay("native", prepay_request(account.mchid, "TO19000000010009"))
            # httpx's read timeout or our deadline, whichever fires first; either way the trace
            # of the real connection showed the request being sent, so it is not "not sent".
            assert isinstance(caught.value.__cause__, httpx.ReadTimeout | TimeoutError)
            found = await pay.query_by_out_trade_no("TO19000000010009")
        assert found.trade_state == "NOTPAY"
        assert len(box.pay.book.orders()) == 1
