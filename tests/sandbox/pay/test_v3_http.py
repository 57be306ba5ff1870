"""The v3 pipeline: every Authorization failure WeChat answers with 401 SIGN_ERROR, header
checks, body cap, and signed 2xx answers in both key modes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from paydesk.protocol.errors import SignatureMismatch
from paydesk.protocol.v3.verify import KeySet, verify_signed


def _order(v3: Any, number: str = "T_AUTH0001") -> bytes:
    return json.dumps(v3.order(number, payer={"openid": "oX"})).encode()


async def test_a_good_signature_gets_a_signed_answer_in_public_key_mode(v3: Any) -> None:
    response = await v3.prepay("T_AUTH0001")
    assert response.status_code == 200
    assert response.headers["Wechatpay-Serial"] == v3.creds.platform_public_key_id
    assert response.headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert response.headers["Request-ID"]


async def test_a_good_signature_gets_a_signed_answer_in_certificate_mode(v3_cert: Any) -> None:
    response = await v3_cert.prepay("T_AUTH0002")
    assert response.status_code == 200
    assert response.headers["Wechatpay-Serial"] == v3_cert.creds.platform_certificate_serial


async def test_the_other_merchants_key_does_not_verify_an_answer(
    v3: Any, v3_cert: Any, helpers: Any
) -> None:
    response = await v3.prepay("T_AUTH0003")
    [other_key] = helpers.platform_keys(v3_cert.creds).keys.values()
    wrong = KeySet({response.headers["Wechatpay-Serial"]: other_key})
    with pytest.raises(SignatureMismatch):
        verify_signed(response.headers, response.content, wrong, now=int(time.time()))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v3/pay/transactions/jsapi", "签名信息错误，验签失败"),
        (
            "/v3/refund/domestic/refunds",
            "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》",
        ),
    ],
)
async def test_no_authorization_is_a_format_error(
    sandbox_client: httpx.AsyncClient, path: str, message: str
) -> None:
    response = await sandbox_client.post(path, content=b"{}", headers={"Accept": "*/*"})
    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"
    assert response.json()["message"] == message
    assert response.json()["detail"]["location"] == "authorization"
    assert not any(name.lower().startswith("wechatpay-") for name in response.headers)


async def test_401_on_pay_paths_has_no_request_id_but_elsewhere_it_does(
    sandbox_client: httpx.AsyncClient,
) -> None:
    pay = await sandbox_client.post("/v3/pay/transactions/native", content=b"{}")
    refund = await sandbox_client.get("/v3/refund/domestic/refunds/R1", headers={"Accept": "*/*"})
    assert "request-id" not in pay.headers
    assert refund.status_code == 401
    assert refund.headers["request-id"]


async def test_a_forged_signature_is_refused(v3: Any, sandbox_client: httpx.AsyncClient) -> None:
    body = _order(v3)
    header = v3.authorization("POST", "/v3/pay/transactions/jsapi", body)
    forged = header.replace('signature="', 'signature="AAAA', 1)
    response = await sandbox_client.post(
        "/v3/pay/transactions/jsapi", content=body, headers={"Authorization": forged}
    )
    assert response.status_code == 401
    assert response.json()["message"] == "签名错误"


async def test_a_signature_over_other_bytes_is_refused(
    v3: Any, sandbox_client: httpx.AsyncClient
) -> None:
    body = _order(v3)
    header = v3.authorization("POST", "/v3/pay/transactions/jsapi", body)
    response = await sandbox_client.post(
        "/v3/pay/transactions/jsapi", content=body + b" ", headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.json()["detail"]["sign_information"]["url"] == "/v3/pay/transactions/jsapi"


async def test_the_query_string_is_part_of_what_is_signed(
    v3: Any, sandbox_client: httpx.AsyncClient
) -> None:
    await v3.prepay("T_AUTH0004")
    signed_for = "/v3/pay/transactions/out-trade-no/T_AUTH0004?mchid=" + v3.mchid
    header = v3.authorization("GET", signed_for, b"")
    response = await sandbox_client.get(signed_for + "&x=1", headers={"Authorization": header})
    assert response.status_code == 401


@pytest.mark.parametrize("skew", [-301, 300, 3600])
async def test_a_stale_timestamp_is_refused_on_the_wall_clock(
    v3: Any,
    sandbox_client: httpx.AsyncClient,
    sandbox: Any,
    skew: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The wall clock stands still: at the 300 s boundary a second ticking between signing and
    # checking would otherwise make the skew 299 (accepted).
    frozen = datetime.now(UTC)
    monkeypatch.setattr(sandbox.clock, "wall", lambda: frozen)
    body = _order(v3)
    url = "/v3/pay/transactions/jsapi"
    header = v3.authorization("POST", url, body, timestamp=int(frozen.timestamp()) + skew)
    response = await sandbox_client.post(url, content=body, headers={"Authorization": header})
    assert response.status_code == 401
    assert (
        response.json()["message"]
        == "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟"
    )


async def test_a_timestamp_within_five_minutes_passes_even_on_a_fast_virtual_clock(
    v3: Any, sandbox_client: httpx.AsyncClient, sandbox: Any
) -> None:
    sandbox.clock.advance(86400)  # virtual time never matters for signatures
    body = _order(v3)
    url = "/v3/pay/transactions/jsapi"
    header = v3.authorization("POST", url, body, timestamp=int(time.time()) - 290)
    response = await sandbox_client.post(url, content=body, headers={"Authorization": header})
    assert response.status_code == 200


async def test_an_unknown_serial_is_refused(v3: Any, sandbox_client: httpx.AsyncClient) -> None:
    body = _order(v3)
    url = "/v3/pay/transactions/jsapi"
    header = v3.authorization("POST", url, body).replace(
        f'serial_no="{v3.creds.merchant_serial_no}"', 'serial_no="0123ABCD"'
    )
    response = await sandbox_client.post(url, content=body, headers={"Authorization": header})
    assert response.status_code == 401
    assert "serial_no" in response.json()["detail"]["issue"]


async def test_an_unknown_merchant_is_refused(v3: Any, sandbox_client: httpx.AsyncClient) -> None:
    body = _order(v3)
    url = "/v3/pay/transactions/jsapi"
    header = v3.authorization("POST", url, body).replace(v3.mchid, "1234567890", 1)
    response = await sandbox_client.post(url, content=body, headers={"Authorization": header})
    assert response.status_code == 401
    assert "unknown mchid" in response.json()["detail"]["issue"]


async def test_certificates_and_refunds_insist_on_user_agent_and_accept(v3: Any) -> None:
    response = await v3.call("GET", "/v3/certificates", None, **{"User-Agent": ""})
    assert response.status_code == 400
    assert response.json() == {"code": "INVALID_REQUEST", "message": "Http头缺少Accept或User-Agent"}


async def test_a_body_over_64_kib_is_refused_before_verification(
    sandbox_client: httpx.AsyncClient,
) -> None:
    response = await sandbox_client.post("/v3/pay/transactions/native", content=b" " * 70_000)
    assert response.status_code == 413
    assert response.json()["code"] == "PARAM_ERROR"


async def test_the_signed_url_is_the_one_without_the_mount_prefix(sandbox: Any, v3: Any) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    host = Starlette(routes=[Mount("/sandbox", app=sandbox.asgi())])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host), base_url="http://host.test/sandbox"
    ) as client:
        mounted = type(v3)(client, v3.creds)
        response = await mounted.prepay("T_MOUNT001", "h5")
    assert response.status_code == 200
    assert response.json()["h5_url"].startswith("http://host.test/sandbox/_sandbox/checkmweb?")
