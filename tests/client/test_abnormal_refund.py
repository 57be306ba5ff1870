"""PayV3Client.apply_abnormal_refund against a scripted WeChat Pay (MockTransport): the bank
card and name leave encrypted under WeChat's key named in ``Wechatpay-Serial`` (public-key and
certificate mode), once per call, and never appear in an error or a log line; then once end to
end against the in-process sandbox, in both modes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from paydesk.client import errors
from paydesk.client.config import Endpoints, MerchantAccount
from paydesk.client.pay_v3 import PayV3Client
from paydesk.protocol.errors import KeyFormatError, MalformedInput, SignatureMismatch
from paydesk.protocol.keys import (
    certificate_serial,
    make_self_signed_certificate,
)
from paydesk.protocol.v3.certificates import encode_certificates_response
from paydesk.protocol.v3.models import Amount, PrepayRequest, RefundAmountRequest, RefundRequest
from paydesk.protocol.v3.oaep import oaep_decrypt
from paydesk.protocol.v3.signing import parse_authorization
from paydesk.protocol.v3.verify import KeySet
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID
from tests.client.doubles import NOW, PUBLIC_KEY_ID, PayDouble, Seen, merchant_account

Sleep = Callable[[float], Awaitable[None]]

REFUND_ID = "50000000382019052709732678859"
PATH = f"/sandbox/v3/refund/domestic/refunds/{REFUND_ID}/apply-abnormal-refund"
CARD = "6222020000000000000"
NAME = "张三"
PROCESSING = {
    "refund_id": REFUND_ID,
    "out_refund_no": "R0001",
    "transaction_id": "4200000000000000000000000001",
    "out_trade_no": "T0001",
    "channel": "ORIGINAL",
    "user_received_account": "工商银行借记卡0000",
    "status": "PROCESSING",
    "amount": {"total": 100, "refund": 100},
}


async def to_user_card(client: PayV3Client, **change: Any) -> Any:
    fields: dict[str, Any] = {
        "out_refund_no": "R0001",
        "to": "USER_BANK_CARD",
        "bank_type": "ICBC_DEBIT",
        "bank_account": CARD,
        "real_name": NAME,
    }
    return await client.apply_abnormal_refund(REFUND_ID, **fields | change)


def sent_json(seen: Seen) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(seen.body)
    return body


def assert_encrypted_for(seen: Seen, key: RSAPrivateKey) -> None:
    body = sent_json(seen)
    assert CARD not in seen.body.decode()
    assert NAME not in seen.body.decode()
    assert oaep_decrypt(key, body["bank_account"]) == CARD
    assert oaep_decrypt(key, body["real_name"]) == NAME


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.PEM).decode()


def certificates_body(
    *entries: tuple[x509.Certificate, datetime, datetime], apiv3_key: str
) -> bytes:
    return encode_certificates_response(
        [(_pem(cert), effective, expire) for cert, effective, expire in entries],
        apiv3_key,
        nonces=[f"{n:012d}" for n in range(len(entries))],
    )


def another_certificate(key: RSAPrivateKey, serial: int) -> x509.Certificate:
    issued = datetime(2023, 1, 1, tzinfo=UTC)
    return make_self_signed_certificate(
        key,
        serial_number=serial,
        common_name="Tenpay.com test platform",
        not_before=issued,
        not_after=issued + timedelta(days=3650),
    )


START = datetime(2023, 1, 1, tzinfo=UTC)  # NOW is 2023-11-14


@pytest.fixture(params=["public-key", "certificate"])
def either_mode(
    request: pytest.FixtureRequest,
    client: PayV3Client,
    pay_double: PayDouble,
    cert_client: PayV3Client,
    cert_double: PayDouble,
) -> tuple[PayV3Client, PayDouble]:
    """Each merchant mode's client and its double; in certificate mode "any request"
    includes the ``/v3/certificates`` download."""
    if request.param == "public-key":
        return client, pay_double
    return cert_client, cert_double


# ---------------------------------------------------------------- what is sent


async def test_public_key_mode_encrypts_with_the_wechat_pay_public_key(
    client: PayV3Client, pay_double: PayDouble, platform_key: RSAPrivateKey
) -> None:
    pay_double.script = [pay_double.signed(PROCESSING)]

    refund = await to_user_card(client)

    assert (refund.refund_id, refund.out_refund_no, refund.status) == (
        REFUND_ID,
        "R0001",
        "PROCESSING",
    )
    [seen] = pay_double.seen
    assert (seen.method, seen.raw_path) == ("POST", PATH)
    assert seen.auth_error is None
    assert seen.headers.get_list("Wechatpay-Serial") == [PUBLIC_KEY_ID]
    assert seen.headers["Content-Type"] == "application/json"
    body = sent_json(seen)
    assert list(body) == ["out_refund_no", "type", "bank_type", "bank_account", "real_name"]
    assert (body["out_refund_no"], body["type"], body["bank_type"]) == (
        "R0001",
        "USER_BANK_CARD",
        "ICBC_DEBIT",
    )
    assert_encrypted_for(seen, platform_key)


async def test_each_call_draws_a_fresh_seed(client: PayV3Client, pay_double: PayDouble) -> None:
    pay_double.default = pay_double.signed(PROCESSING)

    await to_user_card(client)
    await to_user_card(client)

    first, second = (sent_json(s) for s in pay_double.seen)
    assert first["bank_account"] != second["bank_account"]
    assert first["real_name"] != second["real_name"]


async def test_merchant_bank_card_sends_no_bank_field(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed(PROCESSING)]

    await client.apply_abnormal_refund(REFUND_ID, out_refund_no="R0001", to="MERCHANT_BANK_CARD")

    [seen] = pay_double.seen
    assert seen.body == b'{"out_refund_no":"R0001","type":"MERCHANT_BANK_CARD"}'
    assert seen.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID
    assert seen.auth_error is None


async def test_certificate_mode_downloads_the_certificates_once_and_names_one(
    cert_client: PayV3Client,
    cert_double: PayDouble,
    platform_cert: x509.Certificate,
    platform_key: RSAPrivateKey,
) -> None:
    certs = certificates_body(
        (platform_cert, START, START + timedelta(days=3650)),
        apiv3_key=cert_client.account.apiv3_key,
    )
    cert_double.script = [
        cert_double.signed(certs),
        cert_double.signed(PROCESSING),
        cert_double.signed(PROCESSING | {"out_refund_no": "R0002"}),
    ]

    await to_user_card(cert_client)
    second = await to_user_card(cert_client, out_refund_no="R0002")

    assert second.out_refund_no == "R0002"
    download, first_call, second_call = cert_double.seen
    assert download.raw_path == "/sandbox/v3/certificates"
    assert "Wechatpay-Serial" not in download.headers
    for seen in (first_call, second_call):
        assert seen.raw_path == PATH
        assert seen.auth_error is None
        assert seen.headers.get_list("Wechatpay-Serial") == [certificate_serial(platform_cert)]
        assert_encrypted_for(seen, platform_key)


async def test_certificate_mode_uses_the_newest_certificate_in_effect(
    cert_client: PayV3Client,
    cert_double: PayDouble,
    platform_cert: x509.Certificate,
) -> None:
    newer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    future_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    newer = another_certificate(newer_key, 0x4B2C)
    future = another_certificate(future_key, 0x5C3D)
    certs = certificates_body(
        (platform_cert, START, START + timedelta(days=365)),
        (newer, START + timedelta(days=30), START + timedelta(days=3650)),
        (future, START + timedelta(days=3000), START + timedelta(days=3800)),  # not yet
        apiv3_key=cert_client.account.apiv3_key,
    )
    cert_double.script = [cert_double.signed(certs), cert_double.signed(PROCESSING)]

    await to_user_card(cert_client)

    seen = cert_double.seen[1]
    assert seen.headers["Wechatpay-Serial"] == certificate_serial(newer)
    assert_encrypted_for(seen, newer_key)


async def test_certificate_mode_takes_the_latest_expiry_when_none_is_in_effect_yet(
    cert_client: PayV3Client,
    cert_double: PayDouble,
    platform_cert: x509.Certificate,
    platform_key: RSAPrivateKey,
) -> None:
    later = START + timedelta(days=3000)
    certs = certificates_body(
        (platform_cert, later, later + timedelta(days=3650)),
        apiv3_key=cert_client.account.apiv3_key,
    )
    cert_double.script = [cert_double.signed(certs), cert_double.signed(PROCESSING)]

    await to_user_card(cert_client)

    assert cert_double.seen[1].headers["Wechatpay-Serial"] == certificate_serial(platform_cert)
    assert_encrypted_for(cert_double.seen[1], platform_key)


async def test_configured_certificate_keys_still_download_and_an_empty_list_stops_there(
    cert_account: MerchantAccount,
    endpoints: Endpoints,
    cert_http: httpx.AsyncClient,
    cert_double: PayDouble,
    platform_cert: x509.Certificate,
) -> None:
    configured = replace(cert_account, verify_keys=KeySet.from_certificates([platform_cert]))
    client = PayV3Client(configured, endpoints=endpoints, http=cert_http, clock=lambda: NOW)
    empty = certificates_body(apiv3_key=configured.apiv3_key)
    cert_double.script = [cert_double.signed(empty)]

    with pytest.raises(errors.UnexpectedResponse, match="no platform certificate"):
        await to_user_card(client)

    assert [s.raw_path for s in cert_double.seen] == ["/sandbox/v3/certificates"]


async def test_a_failed_certificate_download_is_the_downloads_error(
    cert_client: PayV3Client, cert_double: PayDouble
) -> None:
    cert_double.script = [cert_double.error(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书")]

    with pytest.raises(errors.NotFound):
        await to_user_card(cert_client)

    assert len(cert_double.seen) == 1


async def test_public_key_mode_without_the_configured_key_sends_nothing(
    account: MerchantAccount,
    endpoints: Endpoints,
    mock_http: httpx.AsyncClient,
    pay_double: PayDouble,
    platform_cert: x509.Certificate,
) -> None:
    misconfigured = replace(
        account, verify_keys=KeySet.from_certificates([platform_cert]), public_key_id=PUBLIC_KEY_ID
    )
    client = PayV3Client(misconfigured, endpoints=endpoints, http=mock_http, clock=lambda: NOW)

    with pytest.raises(KeyFormatError, match=PUBLIC_KEY_ID):
        await to_user_card(client)

    assert pay_double.seen == []


# ---------------------------------------------------------------- retries and errors


async def test_a_5xx_is_retried_with_byte_identical_ciphertext(
    client: PayV3Client, pay_double: PayDouble, sleeps: list[float], platform_key: RSAPrivateKey
) -> None:
    pay_double.script = [
        pay_double.error(500, "SYSTEM_ERROR"),
        pay_double.error(502, "SERVICE_UNAVAILABLE"),
        pay_double.signed(PROCESSING),
    ]

    refund = await to_user_card(client)

    assert refund.status == "PROCESSING"
    assert len(pay_double.seen) == 3
    assert len({s.body for s in pay_double.seen}) == 1
    assert [s.auth_error for s in pay_double.seen] == [None, None, None]
    nonces = [parse_authorization(s.headers["Authorization"]).nonce_str for s in pay_double.seen]
    assert nonces == ["NONCE0001", "NONCE0002", "NONCE0003"]  # re-signed, not re-encrypted
    assert {s.headers["Wechatpay-Serial"] for s in pay_double.seen} == {PUBLIC_KEY_ID}
    assert sleeps == [0.1, 0.2]
    assert_encrypted_for(pay_double.seen[0], platform_key)


@pytest.mark.parametrize(
    ("status", "code", "expected", "attempts"),
    [
        (400, "PARAM_ERROR", errors.InvalidRequest, 1),
        (400, "INVALID_REQUEST", errors.InvalidRequest, 1),
        (401, "SIGN_ERROR", errors.AuthenticationFailed, 1),
        (403, "NO_AUTH", errors.Refused, 1),
        (404, "RESOURCE_NOT_EXISTS", errors.NotFound, 1),
        (429, "FREQUENCY_LIMITED", errors.RateLimited, 1),
        (500, "SYSTEM_ERROR", errors.UpstreamUnavailable, 3),
    ],
)
async def test_error_answers_map_to_the_tree(
    client: PayV3Client,
    pay_double: PayDouble,
    status: int,
    code: str,
    expected: type[errors.WeChatApiError],
    attempts: int,
) -> None:
    pay_double.script = [pay_double.error(status, code, "说明") for _ in range(3)]

    with pytest.raises(expected) as caught:
        await to_user_card(client)

    err = caught.value
    assert type(err) is expected
    assert (err.status, err.code, err.message) == (status, code, "说明")
    assert err.request_id == f"REQ-{status}"
    assert len(pay_double.seen) == attempts
    assert len({s.body for s in pay_double.seen}) == 1
    assert CARD not in f"{err} {err!r}"
    assert NAME not in f"{err} {err!r}"


async def test_an_answer_that_does_not_verify_is_never_used(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed(PROCESSING, tamper=True)]

    with pytest.raises(errors.ResponseNotVerified) as caught:
        await to_user_card(client)

    assert isinstance(caught.value.__cause__, SignatureMismatch)


async def test_a_verified_answer_that_is_not_a_refund_is_unexpected(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    pay_double.script = [pay_double.signed({"refund_id": REFUND_ID, "status": "PROCESSING"})]

    with pytest.raises(errors.UnexpectedResponse):
        await to_user_card(client)


# ---------------------------------------------------------------- caller mistakes


def assert_refused_unsent(err: MalformedInput, field: str, double: PayDouble) -> None:
    assert err.field == field
    assert err.__cause__ is None
    assert err.__context__ is None  # not even pydantic's error, which quotes the input
    assert CARD not in f"{err} {err!r}"
    assert NAME not in f"{err} {err!r}"
    assert double.seen == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bank_type": None}, "type"),
        ({"bank_account": None}, "type"),
        ({"real_name": None}, "type"),
        ({"to": "MERCHANT_BANK_CARD"}, "type"),
        ({"to": "MERCHANT_BANK_CARD", "bank_account": None, "real_name": None}, "type"),
        ({"to": "WALLET"}, "type"),
        ({"bank_type": "ICBC_CREDIT"}, "bank_type"),
        ({"bank_account": ""}, "bank_account"),
        ({"real_name": ""}, "real_name"),
        ({"bank_account": "6" * 1025}, "bank_account"),
        ({"out_refund_no": ""}, "out_refund_no"),
        ({"out_refund_no": "R" * 65}, "out_refund_no"),
    ],
)
async def test_invalid_arguments_raise_before_any_request(
    either_mode: tuple[PayV3Client, PayDouble], change: dict[str, Any], field: str
) -> None:
    client, double = either_mode

    with pytest.raises(MalformedInput) as caught:
        await to_user_card(client, **change)

    assert_refused_unsent(caught.value, field, double)


async def test_a_name_too_long_for_the_key_raises_before_the_request(
    client: PayV3Client, pay_double: PayDouble
) -> None:
    with pytest.raises(MalformedInput) as caught:
        await to_user_card(client, real_name=NAME * 80)  # 480 bytes; RSA-2048 OAEP holds 214

    assert_refused_unsent(caught.value, "real_name", pay_double)


async def test_an_empty_refund_id_raises_before_any_request(
    cert_client: PayV3Client, cert_double: PayDouble
) -> None:
    with pytest.raises(MalformedInput) as caught:
        await cert_client.apply_abnormal_refund("", out_refund_no="R0001", to="MERCHANT_BANK_CARD")
    assert caught.value.field == "refund_id"
    assert cert_double.seen == []


async def test_the_plaintext_is_never_logged(
    client: PayV3Client, pay_double: PayDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pay_double.script = [
        pay_double.error(500, "SYSTEM_ERROR"),
        pay_double.signed(PROCESSING),
        pay_double.error(403, "NO_AUTH"),
    ]

    await to_user_card(client)
    with pytest.raises(errors.Refused):
        await to_user_card(client)
    with pytest.raises(MalformedInput):
        await to_user_card(client, bank_type="ICBC_CREDIT")

    assert caplog.records  # httpx logged the requests
    assert CARD not in caplog.text
    assert NAME not in caplog.text


# ---------------------------------------------------------------- against the sandbox

SANDBOX = "http://host.test/sandbox"
SANDBOX_CARD = "6222020200112345678"


@pytest.fixture(scope="module")
def credentials() -> SandboxCredentials:
    return SandboxCredentials.generate()


async def acknowledge(request: Request) -> Response:
    return Response(status_code=204)


@pytest.fixture
async def sandbox(credentials: SandboxCredentials) -> AsyncIterator[Sandbox]:
    merchant = Starlette(routes=[Route("/{path:path}", acknowledge, methods=["POST"])])
    async with Sandbox(credentials, transport=httpx.ASGITransport(app=merchant), seed=7) as box:
        yield box


@pytest.fixture
async def sandbox_http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox mounted at /sandbox, as ``paydesk serve`` mounts it."""
    host = Starlette(routes=[Mount("/sandbox", app=sandbox.asgi())])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host)) as http:
        yield http


@pytest.mark.parametrize("mchid", ["1900000001", "1900000002"], ids=["public-key", "certificate"])
async def test_against_the_sandbox_an_abnormal_refund_goes_to_the_payers_card(
    credentials: SandboxCredentials, sandbox: Sandbox, sandbox_http: httpx.AsyncClient, mchid: str
) -> None:
    [creds] = [m for m in credentials.merchants if m.mchid == mchid]
    pay = PayV3Client(
        merchant_account(creds), endpoints=Endpoints.sandbox(SANDBOX), http=sandbox_http
    )
    order = PrepayRequest(
        appid=DEFAULT_MINIPROGRAM_APPID,
        mchid=mchid,
        description="paydesk 测试商品",
        out_trade_no=f"AB{mchid}0001",
        notify_url=f"https://merchant.test/notify/v3/{mchid}",
        amount=Amount(total=100),
    )
    prepay = await pay.prepay("native", order)
    paid = await sandbox_http.post(
        f"{SANDBOX}/_sandbox/pay", json={"code_url": prepay.code_url, "result": "SUCCESS"}
    )
    assert paid.status_code == 200, paid.text
    number = f"AR{mchid}0001"
    refund = await pay.refund(
        RefundRequest(
            out_trade_no=order.out_trade_no,
            out_refund_no=number,
            amount=RefundAmountRequest(refund=40, total=100),
        )
    )
    forced = await sandbox_http.post(
        f"{SANDBOX}/_sandbox/refund-outcome",
        json={"out_refund_no": number, "status": "ABNORMAL", "mchid": mchid},
    )
    assert forced.status_code == 200, forced.text
    await sandbox.pay.drain(5)
    assert (await pay.query_refund(number)).status == "ABNORMAL"

    applied = await pay.apply_abnormal_refund(
        refund.refund_id,
        out_refund_no=number,
        to="USER_BANK_CARD",
        bank_type="ICBC_DEBIT",
        bank_account=SANDBOX_CARD,
        real_name=NAME,
    )

    assert (applied.refund_id, applied.status) == (refund.refund_id, "PROCESSING")
    # The sandbox read the card's last digits: it decrypted what the client encrypted.
    assert applied.user_received_account == "工商银行借记卡5678"
    assert (await pay.query_refund(number)).status == "PROCESSING"
