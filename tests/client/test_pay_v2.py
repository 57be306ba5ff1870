"""PayV2Client against a scripted v2 endpoint: signed XML out, verified XML in, errors mapped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.client import errors
from paydesk.client.config import Endpoints, MerchantAccount
from paydesk.client.pay_v2 import PayV2Client
from paydesk.protocol.errors import KeyFormatError, MalformedInput, SignatureMismatch
from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
from paydesk.protocol.v2.sign import verify_v2
from paydesk.protocol.v3.verify import KeySet
from tests.client.doubles import APIV3_KEY, BASE, V2_KEY

Sleep = Callable[[float], Awaitable[None]]
MCHID = "1900000001"
APPID = "wx5a0d5a0d00000001"
OK = {"return_code": "SUCCESS", "return_msg": "OK", "appid": APPID, "mch_id": MCHID}
UNIFIED: dict[str, str | int | None] = {
    "appid": APPID,
    "body": "QQ公仔",
    "out_trade_no": "T20240101000001",
    "total_fee": 100,
    "spbill_create_ip": "1.2.3.4",
    "notify_url": "https://merchant.test/notify/wechatpay/v2/1900000001",
    "trade_type": "JSAPI",
    "openid": "oUser1",
    "attach": None,
}


def reply(fields: dict[str, str], *, key: str = V2_KEY, status: int = 200) -> httpx.Response:
    body = signed_xml({**OK, "nonce_str": "SRV", **fields}, key=key, sign_type="HMAC-SHA256")
    return httpx.Response(status, content=body.encode())


def ok(**fields: str) -> httpx.Response:
    return reply({"result_code": "SUCCESS", **fields})


def fail(err_code: str, des: str = "说明") -> httpx.Response:
    return reply({"result_code": "FAIL", "err_code": err_code, "err_code_des": des})


@dataclass
class V2Double:
    """Checks each request's v2 signature with the merchant's key, then plays the script."""

    script: list[httpx.Response | Exception] = field(default_factory=list)
    seen: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fields = parse_v2_fields(request.content)
        verify_v2(fields, V2_KEY, "HMAC-SHA256")  # raises if the client signed wrongly
        self.seen.append((request.url.path, request.content, fields))
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def double() -> V2Double:
    return V2Double()


@pytest.fixture
async def v2(
    account: MerchantAccount,
    double: V2Double,
    nonces: Callable[[], str],
    sleep: Sleep,
) -> AsyncIterator[PayV2Client]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(double)) as http:
        yield PayV2Client(
            account, endpoints=Endpoints.sandbox(BASE), http=http, nonce=nonces, sleep=sleep
        )


async def test_unified_order_signs_with_the_pinned_type(v2: PayV2Client, double: V2Double) -> None:
    double.script = [ok(trade_type="JSAPI", prepay_id="wx201410272009395522657a690389285100")]

    answer = await v2.unified_order(UNIFIED)

    assert answer.ok
    assert answer.prepay_id == "wx201410272009395522657a690389285100"
    [(path, body, fields)] = double.seen
    assert path == "/sandbox/pay/unifiedorder"
    assert fields["mch_id"] == MCHID
    assert fields["nonce_str"] == "NONCE0001"
    assert fields["sign_type"] == "HMAC-SHA256"
    assert fields["total_fee"] == "100"
    assert "attach" not in fields  # None means "leave it out"
    assert body.startswith(b"<xml>")


async def test_a_system_error_is_retried_with_the_same_bytes(
    v2: PayV2Client, double: V2Double, sleeps: list[float]
) -> None:
    double.script = [
        fail("SYSTEMERROR"),
        httpx.ConnectError("refused"),
        ok(trade_type="NATIVE", prepay_id="wx1", code_url="weixin://wxpay/bizpayurl?pr=x"),
    ]

    answer = await v2.unified_order(UNIFIED | {"trade_type": "NATIVE", "openid": None})

    assert answer.code_url == "weixin://wxpay/bizpayurl?pr=x"
    assert len({body for _, body, _ in double.seen}) == 1
    assert len(double.seen) == 3
    assert sleeps == [0.1, 0.2]


async def test_an_http_5xx_is_retried_then_raised(v2: PayV2Client, double: V2Double) -> None:
    xml = b"<xml><return_code>FAIL</return_code><err_code>SYSTEMERROR</err_code></xml>"
    double.script = [
        httpx.Response(500, content=xml),
        httpx.Response(503, content=b"<html>down</html>"),
        httpx.Response(500, content=xml, headers={"Request-ID": "R1"}),
    ]
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        await v2.order_query(APPID, out_trade_no="T1")
    assert (caught.value.code, caught.value.status, caught.value.request_id) == (
        "SYSTEMERROR",
        500,
        "R1",
    )
    assert len(double.seen) == 3


async def test_an_unparsable_5xx_is_still_unavailable(v2: PayV2Client, double: V2Double) -> None:
    double.script = [httpx.Response(502, content=b"<html>") for _ in range(3)]
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        await v2.close_order(APPID, "T1")
    assert (caught.value.code, caught.value.message) == ("HTTP_502", "HTTP_502")


@pytest.mark.parametrize(
    ("answer", "cls", "code"),
    [
        (
            reply({"return_code": "FAIL", "return_msg": "签名错误"}),
            errors.AuthenticationFailed,
            "SIGNERROR",
        ),
        (
            reply({"return_code": "FAIL", "return_msg": "XML格式错误"}),
            errors.InvalidRequest,
            "FAIL",
        ),
        (fail("ORDERNOTEXIST", "此交易订单号不存在"), errors.NotFound, "ORDERNOTEXIST"),
        (fail("ORDERPAID", "订单已支付"), errors.Refused, "ORDERPAID"),
    ],
)
async def test_failures_map_into_the_tree(
    v2: PayV2Client,
    double: V2Double,
    answer: httpx.Response,
    cls: type[errors.WeChatApiError],
    code: str,
) -> None:
    double.script = [answer]
    with pytest.raises(cls) as caught:
        await v2.close_order(APPID, "T1")
    assert type(caught.value) is cls
    assert caught.value.code == code
    assert caught.value.status == 200
    assert len(double.seen) == 1


async def test_a_reply_signed_with_another_key_is_not_verified(
    v2: PayV2Client, double: V2Double
) -> None:
    double.script = [reply({"result_code": "SUCCESS"}, key="another-key")]
    with pytest.raises(errors.ResponseNotVerified) as caught:
        await v2.close_order(APPID, "T1")
    assert isinstance(caught.value.__cause__, SignatureMismatch)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"not xml"),
        ok(),  # a unified order that claims success without a prepay_id
    ],
)
async def test_an_unreadable_reply_is_unexpected(
    v2: PayV2Client, double: V2Double, answer: httpx.Response
) -> None:
    double.script = [answer]
    with pytest.raises(errors.UnexpectedResponse):
        await v2.unified_order(UNIFIED)


async def test_order_query_and_refund_query(v2: PayV2Client, double: V2Double) -> None:
    double.script = [
        ok(trade_state="SUCCESS", out_trade_no="T1", total_fee="100", transaction_id="4200"),
        ok(
            out_trade_no="T1",
            refund_count="1",
            out_refund_no_0="R1",
            refund_id_0="5000",
            refund_fee_0="40",
            refund_status_0="PROCESSING",
        ),
    ]

    order = await v2.order_query(APPID, transaction_id="4200")
    refunds = await v2.refund_query(APPID, out_trade_no="T1")

    assert (order.trade_state, order.total_fee) == ("SUCCESS", 100)
    assert [(r.out_refund_no, r.refund_fee) for r in refunds.refunds] == [("R1", 40)]
    assert double.seen[0][2]["transaction_id"] == "4200"
    assert "out_trade_no" not in double.seen[0][2]
    assert double.seen[1][0] == "/sandbox/pay/refundquery"


async def test_refund_goes_through_the_client_certificate_client(
    account: MerchantAccount, double: V2Double, sleep: Sleep
) -> None:
    secapi = V2Double(script=[ok(out_refund_no="R1", refund_id="5000", refund_fee="40")])
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(double)) as http,
        httpx.AsyncClient(transport=httpx.MockTransport(secapi)) as cert_http,
    ):
        client = PayV2Client(
            account, endpoints=Endpoints.sandbox(BASE), http=http, secapi_http=cert_http
        )
        refund = await client.refund(
            {
                "appid": APPID,
                "out_trade_no": "T1",
                "out_refund_no": "R1",
                "total_fee": 100,
                "refund_fee": 40,
            }
        )
    assert (refund.refund_id, refund.refund_fee) == ("5000", 40)
    assert [path for path, _, _ in secapi.seen] == ["/sandbox/secapi/pay/refund"]
    assert double.seen == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (UNIFIED | {"mch_id": "1900000009"}, "mch_id"),
        (UNIFIED | {"sign": "X"}, "sign"),
        ({k: v for k, v in UNIFIED.items() if k != "notify_url"}, "notify_url"),
    ],
)
async def test_a_request_that_cannot_be_right_is_not_sent(
    v2: PayV2Client, double: V2Double, fields: dict[str, str | int | None], field: str
) -> None:
    with pytest.raises(MalformedInput) as caught:
        await v2.unified_order(fields)
    assert caught.value.field == field
    assert double.seen == []


async def test_a_merchant_without_a_v2_key_has_no_v2_client(merchant_key: RSAPrivateKey) -> None:
    account = MerchantAccount("1900000002", "5F1C", merchant_key, APIV3_KEY, KeySet({}))
    async with httpx.AsyncClient() as http:
        with pytest.raises(KeyFormatError):
            PayV2Client(account, endpoints=Endpoints(), http=http)
