"""The v2 pipeline: HTTP 200 always, return_code FAIL before the signature holds, signed
business answers with the request's sign type."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
from paydesk.protocol.v2.sign import sign_v2
from paydesk.protocol.xmlcodec import to_xml
from paydesk.sandbox.pay.v2_http import fingerprint


async def _post(client: httpx.AsyncClient, body: bytes) -> dict[str, str]:
    response = await client.post("/pay/orderquery", content=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_v2_fields(response.content)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "post数据为空"),
        (b"<xml><a>1</a>", "XML格式错误"),
        (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>',
            "XML格式错误",
        ),
        (b"<xml>" + b"<a>1</a>" * 9000 + b"</xml>", "请求体过大 (over 65536 bytes)"),
    ],
)
async def test_unreadable_bodies_are_return_code_fail(
    sandbox_client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    assert await _post(sandbox_client, body) == {"return_code": "FAIL", "return_msg": message}


async def test_an_unknown_merchant_gets_sign_error_as_observed(
    sandbox_client: httpx.AsyncClient,
) -> None:
    body = to_xml({"mch_id": "1234567890", "appid": "wx1", "nonce_str": "n", "sign": "X"})
    answer = await _post(sandbox_client, body.encode())
    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}


async def test_a_wrong_sign_or_sign_type_is_sign_error(
    sandbox_client: httpx.AsyncClient, v2: Any
) -> None:
    fields = {
        "appid": "wx5a0d5a0d00000001",
        "mch_id": v2.creds.mchid,
        "nonce_str": "n",
        "out_trade_no": "T1",
    }
    wrong_key = signed_xml(fields, key="0" * 32, sign_type="MD5")
    hmac_named_md5_signed = signed_xml(
        fields | {"sign_type": "HMAC-SHA256"}, key=v2.creds.v2_key, sign_type="MD5"
    )
    odd_type = to_xml(
        fields | {"sign_type": "SHA1", "sign": sign_v2(fields, v2.creds.v2_key, "MD5")}
    )
    for body in (wrong_key, hmac_named_md5_signed, odd_type):
        assert (await _post(sandbox_client, body.encode()))["return_msg"] == "签名错误"


async def test_an_app_not_bound_is_a_signed_business_error(v2: Any) -> None:
    answer = await v2.call("/pay/orderquery", {"appid": "wx0000000000000000", "out_trade_no": "T1"})
    assert answer["return_code"] == "SUCCESS"
    assert answer["result_code"] == "FAIL"
    assert answer["err_code"] == "APPID_MCHID_NOT_MATCH"


async def test_hmac_requests_get_hmac_answers(v2_hmac: Any) -> None:
    answer = await v2_hmac.unifiedorder("T_V2H00001")
    assert answer["result_code"] == "SUCCESS"
    assert len(answer["sign"]) == 64  # HMAC-SHA256 hex, verified by the helper


def test_the_fingerprint_leaves_out_what_changes_on_every_retry() -> None:
    assert fingerprint({"a": "1", "nonce_str": "x", "sign": "y", "sign_type": "MD5"}) == {"a": "1"}
