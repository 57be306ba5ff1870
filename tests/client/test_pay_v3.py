"""PayV3Client against a scripted WeChat Pay (MockTransport): what is signed is what is sent,
every answer is verified before use, errors map to the tree, and retries are only the safe ones.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from paydesk.client import errors
from paydesk.client.config import Endpoints, MerchantAccount
from paydesk.client.pay_v3 import PayV3Client
from paydesk.protocol.errors import (
    MalformedInput,
    SignatureMismatch,
    StaleTimestamp,
    UnknownSerial,
)
from paydesk.protocol.keys import certificate_serial
from paydesk.protocol.v3.certificates import encode_certificates_response
from paydesk.protocol.v3.models import (
    Amount,
    H5Info,
    Payer,
    PrepayRequest,
    RefundAmountRequest,
    RefundRequest,
    SceneInfo,
)
from paydesk.protocol.v3.signing import parse_authorization, verify_authorization
from paydesk.protocol.v3.verify import KeySet
from tests.client.doubles import BASE, NOW, PUBLIC_KEY_ID, PayDouble

Sleep = Callable[[float], Awaitable[None]]
MCHID = "1900000001"


def prepay_request(
    *, mchid: str = MCHID, out_trade_no: str = "T20240101000001", openid: str | None = "oUser1"
) -> PrepayRequest:
    return PrepayRequest(
        appid="wx5a0d5a0d00000001",
        mchid=mchid,
        description="QQ公仔",
        out_trade_no=out_trade_no,
        notify_url=f"https://merchant.test/notify/wechatpay/v3/{mchid}",
        amount=Amount(total=100),
        payer=Payer(openid=openid) if openid else None,
    )


def transaction(out_trade_no: str = "T0001", mchid: str = MCHID) -> dict[str, object]:
    return {
        "appid": "wx5a0d5a0d00000001",
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "trade_state": "NOTPAY",
        "trade_state_desc": "订单未支付",
        "amount": {"total": 100, "currency": "CNY"},
    }


REFUND = {
    "refund_id": "50000000382019052709732678859",
    "out_refund_no": "R0001",
    "out_trade_no": "T0001",
    "status": "PROCESSING",
    "amount": {"total": 100, "refund": 40},
}


# ---------------------------------------------------------------- build → sign → send


async def test_prepay_signs_exactly_the_bytes_it_sends(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    request = prepay_request()
    pay_double.script = [pay_double.signed({"prepay_id": "wx2017033010242291fcfe0db70013231072"})]

    answer = await client.prepay("jsapi", request)

    assert answer.prepay_id == "wx2017033010242291fcfe0db70013231072"
    [seen] = pay_double.seen
    assert seen.auth_error is None  # WeChat's own check accepts it
    assert seen.body == request.to_json()
    assert seen.method == "POST"
    assert seen.raw_path == "/sandbox/v3/pay/transactions/jsapi"
    auth = parse_authorization(seen.headers["Authorization"])
    assert (auth.mchid, auth.timestamp, auth.nonce_str) == (MCHID, NOW, "NONCE0001")
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"].startswith("paydesk/")
    assert seen.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID


async def test_the_signed_url_is_wechats_path_with_its_query(
    client: PayV3Client, pay_double: PayDouble, merchant_key: RSAPrivateKey
) -> None:
    pay_double.script = [pay_double.signed(transaction("T|0001*"))]

    found = await client.query_by_out_trade_no("T|0001*")

    assert found.out_trade_no == "T|0001*"
    [seen] = pay_double.seen
    assert seen.raw_path == "/sandbox/v3/pay/transactions/out-trade-no/T%7C0001%2A?mchid=1900000001"
    assert seen.auth_error is None
    assert seen.body == b""
    assert "Content-Type" not in seen.headers
    # The query is part of what was signed: the same signature without it does not hold.
    with pytest.raises(SignatureMismatch):
        verify_authorization(
            seen.headers["Authorization"],
            method="GET",
            url="/v3/pay/transactions/out-trade-no/T%7C0001%2A",
            body=b"",
            public_key=merchant_key.public_key(),
            now=NOW,
        )


async def test_a_base_url_without_prefix_signs_the_same_path(
    account: MerchantAccount, pay_double: PayDouble, nonces: Callable[[], str]
) -> None:
    pay_double.prefix = ""
    pay_double.script = [pay_double.signed(transaction(), status=200)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(pay_double)) as http:
        client = PayV3Client(
            account,
            endpoints=Endpoints(pay_base_url="https://api.mch.weixin.qq.com/"),
            http=http,
            clock=lambda: NOW,
            nonce=nonces,
        )
        await client.query_by_out_trade_no("T0001")
    [seen] = pay_double.seen
    assert seen.raw_path == "/v3/pay/transactions/out-trade-no/T0001?mchid=1900000001"
    assert seen.auth_error is None


async def test_certificate_mode_sends_no_wechatpay_serial(
    cert_account: MerchantAccount,
    cert_double: PayDouble,
    cert_http: httpx.AsyncClient,
    platform_cert: x509.Certificate,
    endpoints: Endpoints,
) -> None:
    cert_double.script = [cert_double.signed(status=204)]
    client = PayV3Client(
        _with_cert(cert_account, platform_cert),
        endpoints=endpoints,
        http=cert_http,
        clock=lambda: NOW,
    )

    await client.close("T0001")

    [seen] = cert_double.seen
    assert "Wechatpay-Serial" not in seen.headers
    assert seen.auth_error is None


def _with_cert(account: MerchantAccount, cert: x509.Certificate) -> MerchantAccount:
    return MerchantAccount(
        mchid=account.mchid,
        serial_no=account.serial_no,
        private_key=account.private_key,
        apiv3_key=account.apiv3_key,
        verify_keys=KeySet.from_certificates([cert]),
    )


# ---------------------------------------------------------------- one method per endpoint


@pytest.mark.parametrize(
    ("channel", "answer"),
    [
        ("app", {"prepay_id": "wx1"}),
        ("native", {"code_url": "weixin://wxpay/bizpayurl?pr=abc"}),
        ("h5", {"h5_url": "https://pay.test/sandbox/_sandbox/checkmweb?prepay_id=wx1"}),
    ],
)
async def test_prepay_on_each_channel(
    client: PayV3Client, pay_double: PayDouble, channel: str, answer: dict[str, str]
) -> None:
    request = prepay_request(openid=None)
    if channel == "h5":
        request = request.model_copy(
            update={"scene_info": SceneInfo(payer_client_ip="1.2.3.4", h5_info=H5Info(type="Wap"))}
        )
    pay_double.script = [pay_double.signed(answer)]

    result = await client.prepay(channel, request)  # type: ignore[arg-type]

    assert result.model_dump(exclude_none=True) == answer
    assert pay_double.seen[0].raw_path == f"/sandbox/v3/pay/transactions/{channel}"


@pytest.mark.parametrize(
    ("channel", "request_", "field"),
    [
        ("jsapi", prepay_request(mchid="1900000009"), "mchid"),
        ("jsapi", prepay_request(openid=None), "payer"),
        ("h5", prepay_request(), "scene_info"),
    ],
)
async def test_prepay_refuses_a_request_wechat_would_refuse_before_sending(
    client: PayV3Client, pay_double: PayDouble, channel: str, request_: PrepayRequest, field: str
) -> None:
    with pytest.raises(MalformedInput) as caught:
        await client.prepay(channel, request_)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert pay_double.seen == []


async def test_a_prepay_answer_without_its_channels_field_is_unexpected(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed({"code_url": "weixin://x"})]
    with pytest.raises(errors.UnexpectedResponse, match="no prepay_id"):
        await client.prepay("jsapi", prepay_request())


async def test_a_verified_body_of_the_wrong_shape_is_unexpected(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed({"appid": "wx1"})]
    with pytest.raises(errors.UnexpectedResponse) as caught:
        await client.query_by_out_trade_no("T0001")
    assert isinstance(caught.value, errors.OutcomeUnknown)
    assert caught.value.request_id == "08F0A1B2C3D4E5F6-268443699"
    assert isinstance(caught.value.__cause__, MalformedInput)


@pytest.mark.parametrize("answer", [transaction("T0002"), transaction("T0001", mchid="1900000009")])
async def test_a_query_answer_about_another_order_is_not_used(
    client: PayV3Client, pay_double: PayDouble, answer: dict[str, object]
) -> None:
    pay_double.script = [pay_double.signed(answer)]
    with pytest.raises(errors.UnexpectedResponse, match="answer is about"):
        await client.query_by_out_trade_no("T0001")


async def test_query_by_transaction_id(client: PayV3Client, pay_double: PayDouble) -> None:
    paid = transaction() | {
        "transaction_id": "4200000000000000000000000001",
        "trade_state": "SUCCESS",
    }
    pay_double.script = [pay_double.signed(paid)]

    found = await client.query_by_transaction_id("4200000000000000000000000001")

    assert found.paid
    assert pay_double.seen[0].raw_path == (
        "/sandbox/v3/pay/transactions/id/4200000000000000000000000001?mchid=1900000001"
    )


async def test_query_by_transaction_id_checks_the_merchant(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed(transaction(mchid="1900000009"))]
    with pytest.raises(errors.UnexpectedResponse):
        await client.query_by_transaction_id("4200000000000000000000000001")


async def test_close_posts_the_mchid_and_accepts_a_signed_204(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed(status=204)]

    await client.close("T0001")

    [seen] = pay_double.seen
    assert seen.raw_path == "/sandbox/v3/pay/transactions/out-trade-no/T0001/close"
    assert seen.body == b'{"mchid":"1900000001"}'
    assert seen.auth_error is None


async def test_refund_and_refund_query(client: PayV3Client, pay_double: PayDouble) -> None:
    request = RefundRequest(
        out_trade_no="T0001",
        out_refund_no="R0001",
        amount=RefundAmountRequest(refund=40, total=100),
    )
    pay_double.script = [
        pay_double.signed(REFUND),
        pay_double.signed(REFUND | {"status": "SUCCESS"}),
    ]

    created = await client.refund(request)
    queried = await client.query_refund("R0001")

    assert (created.status, queried.status) == ("PROCESSING", "SUCCESS")
    first, second = pay_double.seen
    assert (first.raw_path, first.body) == (
        "/sandbox/v3/refund/domestic/refunds",
        request.to_json(),
    )
    assert second.raw_path == "/sandbox/v3/refund/domestic/refunds/R0001"


# ---------------------------------------------------------------- errors map to the tree


@pytest.mark.parametrize(
    ("status", "code", "expected", "attempts"),
    [
        (400, "PARAM_ERROR", errors.InvalidRequest, 1),
        (401, "SIGN_ERROR", errors.AuthenticationFailed, 1),
        (403, "OUT_TRADE_NO_USED", errors.Refused, 1),
        (403, "ORDER_PAID", errors.Refused, 1),
        (404, "ORDER_NOT_EXIST", errors.NotFound, 1),
        (429, "FREQUENCY_LIMITED", errors.RateLimited, 1),
        (500, "SYSTEM_ERROR", errors.UpstreamUnavailable, 3),
        (502, "SERVICE_UNAVAILABLE", errors.UpstreamUnavailable, 3),
        (500, "OPENID_MISMATCH", errors.InvalidRequest, 1),
    ],
)
async def test_error_answers_map_to_classes_and_only_5xx_is_retried(
    client: PayV3Client,
    pay_double: PayDouble,
    sleeps: list[float],
    status: int,
    code: str,
    expected: type[errors.WeChatApiError],
    attempts: int,
) -> None:
    detail = {"field": "/amount/total", "location": "body"}
    pay_double.script = [pay_double.error(status, code, "说明", detail=detail) for _ in range(3)]

    with pytest.raises(expected) as caught:
        await client.prepay("jsapi", prepay_request())

    err = caught.value
    assert type(err) is expected
    assert (err.status, err.code, err.message, err.detail) == (status, code, "说明", detail)
    assert err.request_id == f"REQ-{status}"
    assert b'"code"' in err.body
    assert len(pay_double.seen) == attempts
    assert sleeps == [0.1, 0.2][: attempts - 1]
    assert {s.body for s in pay_double.seen} == {prepay_request().to_json()}


async def test_a_5xx_then_success_reuses_the_same_out_trade_no(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [
        pay_double.error(500, "SYSTEM_ERROR"),
        pay_double.signed({"prepay_id": "wx1"}),
    ]

    assert (await client.prepay("jsapi", prepay_request())).prepay_id == "wx1"

    first, second = pay_double.seen
    assert first.body == second.body == prepay_request().to_json()


async def test_read_timeout_is_outcome_unknown_and_never_retried(
    client: PayV3Client, pay_double: PayDouble, sleeps: list[float]
) -> None:
    pay_double.script = [httpx.ReadTimeout("read timed out"), pay_double.signed({"prepay_id": "x"})]

    with pytest.raises(errors.OutcomeUnknown) as caught:
        await client.prepay("jsapi", prepay_request())

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(pay_double.seen) == 1
    assert sleeps == []


async def test_connect_errors_are_retried_with_identical_bytes_and_valid_signatures(
    client: PayV3Client, pay_double: PayDouble, sleeps: list[float]
) -> None:
    pay_double.script = [
        httpx.ConnectError("refused"),
        httpx.ConnectError("refused"),
        pay_double.signed({"prepay_id": "wx1"}),
    ]

    assert (await client.prepay("jsapi", prepay_request())).prepay_id == "wx1"

    assert len(pay_double.seen) == 3
    assert {s.body for s in pay_double.seen} == {prepay_request().to_json()}
    assert [s.auth_error for s in pay_double.seen] == [None, None, None]
    nonces = [parse_authorization(s.headers["Authorization"]).nonce_str for s in pay_double.seen]
    assert nonces == ["NONCE0001", "NONCE0002", "NONCE0003"]  # re-signed on every attempt
    assert sleeps == [0.1, 0.2]


async def test_connect_errors_give_up_after_the_retries(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [httpx.ConnectError("refused") for _ in range(3)]
    with pytest.raises(errors.TransportFailed):
        await client.prepay("jsapi", prepay_request())
    assert len(pay_double.seen) == 3


async def test_the_deadline_holds_even_when_the_transport_ignores_timeouts(
    account: MerchantAccount, endpoints: Endpoints, pay_double: PayDouble
) -> None:
    async def never_answers(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    pay_double.script = [never_answers]
    async with httpx.AsyncClient(transport=httpx.MockTransport(pay_double)) as http:
        client = PayV3Client(
            account, endpoints=endpoints, http=http, clock=lambda: NOW, timeout=0.05
        )
        with pytest.raises(errors.OutcomeUnknown, match=r"no answer within 0\.05 s"):
            await client.prepay("jsapi", prepay_request())
    assert len(pay_double.seen) == 1


# ---------------------------------------------------------------- verify before use


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda d: d.signed(transaction(), tamper=True), SignatureMismatch),
        (lambda d: d.signed(transaction(), timestamp=NOW - 300), StaleTimestamp),
        (
            lambda d: d.signed(
                transaction(), serial="PUB_KEY_ID_0000000000000000000000000000000009"
            ),
            UnknownSerial,
        ),
        (lambda d: httpx.Response(200, json=transaction()), MalformedInput),
    ],
    ids=["tampered", "stale", "unknown-public-key-id", "unsigned"],
)
async def test_a_2xx_that_does_not_verify_is_never_used(
    client: PayV3Client,
    pay_double: PayDouble,
    make: Callable[[PayDouble], httpx.Response],
    cause: type[Exception],
) -> None:
    pay_double.script = [make(pay_double)]

    with pytest.raises(errors.ResponseNotVerified) as caught:
        await client.query_by_out_trade_no("T0001")

    assert isinstance(caught.value.__cause__, cause)
    assert caught.value.status == 200
    assert len(pay_double.seen) == 1  # no certificate download for a public-key id


# ---------------------------------------------------------------- platform certificates


def certificates_body(cert: x509.Certificate, key: str) -> bytes:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    return encode_certificates_response(
        [(cert.public_bytes(Encoding.PEM).decode(), start, start + timedelta(days=3650))],
        key,
        nonces=["0123456789ab"],
    )


async def test_certificates_are_decrypted_and_verified_with_the_keys_they_carry(
    cert_client: PayV3Client, cert_double: PayDouble, platform_cert: x509.Certificate
) -> None:
    cert_double.script = [
        cert_double.signed(certificates_body(platform_cert, cert_client.account.apiv3_key))
    ]

    [downloaded] = await cert_client.certificates()

    assert downloaded.serial_no == certificate_serial(platform_cert)
    assert cert_double.seen[0].raw_path == "/sandbox/v3/certificates"
    # From now on answers signed with that certificate verify.
    cert_double.script = [cert_double.signed(transaction(mchid="1900000002"))]
    found = await cert_client.query_by_out_trade_no("T0001")
    assert found.mchid == "1900000002"
    assert len(cert_double.seen) == 2


async def test_a_tampered_certificates_answer_is_not_verified(
    cert_client: PayV3Client, cert_double: PayDouble, platform_cert: x509.Certificate
) -> None:
    body = certificates_body(platform_cert, cert_client.account.apiv3_key)
    cert_double.script = [cert_double.signed(body, serial="0ABCDEF")]
    with pytest.raises(errors.ResponseNotVerified):
        await cert_client.certificates()


async def test_an_unknown_certificate_serial_downloads_certificates_once(
    cert_client: PayV3Client, cert_double: PayDouble, platform_cert: x509.Certificate
) -> None:
    certs = certificates_body(platform_cert, cert_client.account.apiv3_key)

    answered: list[int] = []
    all_answered = asyncio.Event()

    async def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v3/certificates"):
            # Hold the download until every query has met the unknown serial.
            await all_answered.wait()
            return cert_double.signed(certs)
        answered.append(1)
        if len(answered) == 3:
            all_answered.set()
        return cert_double.signed(transaction(mchid="1900000002"))

    cert_double.default = route

    found = await asyncio.gather(*(cert_client.query_by_out_trade_no("T0001") for _ in range(3)))

    assert [t.out_trade_no for t in found] == ["T0001"] * 3
    paths = [s.raw_path for s in cert_double.seen]
    assert paths.count("/sandbox/v3/certificates") == 1
    assert len(paths) == 4


async def test_when_the_certificate_download_fails_the_answer_is_not_verified(
    cert_client: PayV3Client, cert_double: PayDouble
) -> None:
    cert_double.script = [
        cert_double.signed(transaction(mchid="1900000002")),
        cert_double.error(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书"),
    ]
    with pytest.raises(errors.ResponseNotVerified, match="certificate download failed") as caught:
        await cert_client.query_by_out_trade_no("T0001")
    assert isinstance(caught.value.__cause__, errors.NotFound)


async def test_a_serial_the_new_certificates_do_not_have_stays_unverified(
    cert_client: PayV3Client, cert_double: PayDouble, platform_cert: x509.Certificate
) -> None:
    certs = certificates_body(platform_cert, cert_client.account.apiv3_key)
    cert_double.script = [
        cert_double.signed(transaction(mchid="1900000002"), serial="7777"),
        cert_double.signed(certs),
    ]
    with pytest.raises(errors.ResponseNotVerified) as caught:
        await cert_client.query_by_out_trade_no("T0001")
    assert isinstance(caught.value.__cause__, UnknownSerial)


# ---------------------------------------------------------------- trade bill


BILL = "交易时间,公众账号ID,商户号\n`2024-01-31 10:00:00,`wx1,`1900000001\n".encode()


@pytest.mark.parametrize(
    "download_url",
    [
        f"{BASE}/v3/billdownload/file?token=6XIv5TUP",
        "https://elsewhere.test/v3/billdownload/file?token=6XIv5TUP",
    ],
)
async def test_trade_bill_downloads_from_our_host_and_checks_the_hash(
    client: PayV3Client, pay_double: PayDouble, download_url: str
) -> None:
    location = {
        "hash_type": "SHA1",
        "hash_value": hashlib.sha1(BILL).hexdigest().upper(),
        "download_url": download_url,
    }
    pay_double.script = [pay_double.signed(location), httpx.Response(200, content=BILL)]

    assert await client.trade_bill(date(2024, 1, 31)) == BILL

    first, second = pay_double.seen
    assert first.raw_path == "/sandbox/v3/bill/tradebill?bill_date=2024-01-31&bill_type=ALL"
    assert second.raw_path == "/sandbox/v3/billdownload/file?token=6XIv5TUP"
    assert second.auth_error is None


async def test_a_bill_that_does_not_match_its_hash_is_refused(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    location = {
        "hash_type": "SHA1",
        "hash_value": "0" * 40,
        "download_url": f"{BASE}/v3/billdownload/file?token=t",
    }
    pay_double.script = [pay_double.signed(location), httpx.Response(200, content=BILL)]
    with pytest.raises(errors.ResponseNotVerified, match="SHA1"):
        await client.trade_bill(date(2024, 1, 31), "SUCCESS")
    assert pay_double.seen[0].raw_path.endswith("bill_type=SUCCESS")


async def test_a_bill_hash_type_other_than_sha1_is_unexpected(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    location = {"hash_type": "MD5", "hash_value": "0" * 32, "download_url": f"{BASE}/x"}
    pay_double.script = [pay_double.signed(location)]
    with pytest.raises(errors.UnexpectedResponse, match="MD5"):
        await client.trade_bill(date(2024, 1, 31))
    assert len(pay_double.seen) == 1
