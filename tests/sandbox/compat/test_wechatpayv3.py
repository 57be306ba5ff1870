"""wechatpayv3 (minibear2021, unmodified) against the sandbox over real HTTP, in both key modes.

The SDK is pointed at the sandbox by setting its core's ``_gate_way``. It verifies the
signature of every 2xx answer itself (and raises when it does not hold), decrypts
``/v3/certificates`` with its own code, and opens notifications with ``callback()``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID, MerchantCredentials

OPENID = "oCOMPAT000000000000000000001"


def _client(
    creds: MerchantCredentials, base_url: str, notify_url: str, cert_dir: Path | None = None
) -> WeChatPay:
    verify: dict[str, str | None]
    if creds.mode == "public_key":
        verify = {
            "public_key": creds.platform_public_key_pem,
            "public_key_id": creds.platform_public_key_id,
        }
    else:
        # Certificate mode downloads certificates in the constructor, from WeChat's host: give it
        # the sandbox's certificate in cert_dir, then download again through the sandbox below.
        assert cert_dir is not None
        assert creds.platform_certificate_pem is not None
        (cert_dir / f"{creds.platform_certificate_serial}.pem").write_text(
            creds.platform_certificate_pem
        )
        verify = {"cert_dir": str(cert_dir)}
    client = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=creds.mchid,
        private_key=creds.merchant_private_key_pem,
        cert_serial_no=creds.merchant_serial_no,
        appid=DEFAULT_MINIPROGRAM_APPID,
        apiv3_key=creds.apiv3_key,
        notify_url=notify_url,
        **verify,
    )
    client._core._gate_way = base_url
    return client


@pytest.fixture(params=["public_key", "certificate"])
def wxpay(
    request: pytest.FixtureRequest, sandbox_server: Any, receiver_server: Any, tmp_path: Path
) -> WeChatPay:
    box, server = sandbox_server
    creds = box.credentials.merchants[0 if request.param == "public_key" else 1]
    return _client(creds, server.base_url, receiver_server.base_url + "/notify", tmp_path)


def _merchant(wxpay: WeChatPay, sandbox_server: Any) -> MerchantCredentials:
    creds = sandbox_server[0].credentials.merchant(wxpay._mchid)
    assert creds is not None
    return creds


def test_prepay_on_three_channels(wxpay: WeChatPay) -> None:
    code, body = wxpay.pay(
        description="兼容性测试",
        out_trade_no="T_WXV3_0001",
        amount={"total": 1},
        payer={"openid": OPENID},
    )
    assert code == 200
    assert json.loads(body)["prepay_id"].startswith("wx")
    code, body = wxpay.pay(
        description="d",
        out_trade_no="T_WXV3_0002",
        amount={"total": 1},
        pay_type=WeChatPayType.NATIVE,
    )
    assert (code, json.loads(body)["code_url"][:28]) == (200, "weixin://wxpay/bizpayurl?pr=")
    code, body = wxpay.pay(
        description="d",
        out_trade_no="T_WXV3_0003",
        amount={"total": 1},
        pay_type=WeChatPayType.H5,
        scene_info={"payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}},
    )
    assert code == 200
    assert "/_sandbox/checkmweb?prepay_id=" in json.loads(body)["h5_url"]


def test_query_close_and_their_errors(wxpay: WeChatPay) -> None:
    wxpay.pay(
        description="d", out_trade_no="T_WXV3_0004", amount={"total": 5}, payer={"openid": OPENID}
    )
    code, body = wxpay.query(out_trade_no="T_WXV3_0004")
    assert (code, json.loads(body)["trade_state"]) == (200, "NOTPAY")
    code, body = wxpay.close(out_trade_no="T_WXV3_0004")
    assert (code, body) == (204, b"")  # a signed empty body: the SDK verified it
    assert json.loads(wxpay.query(out_trade_no="T_WXV3_0004")[1])["trade_state"] == "CLOSED"
    code, body = wxpay.query(out_trade_no="T_WXV3_NOPE")
    assert (code, json.loads(body)["code"]) == (404, "ORDER_NOT_EXIST")


def test_pay_refund_and_the_callbacks(wxpay: WeChatPay, sandbox_server: Any, receiver: Any) -> None:
    _, server = sandbox_server
    code, body = wxpay.pay(
        description="d", out_trade_no="T_WXV3_0005", amount={"total": 300}, payer={"openid": OPENID}
    )
    prepay_id = json.loads(body)["prepay_id"]
    httpx.post(server.base_url + "/_sandbox/pay", json={"prepay_id": prepay_id})
    [paid] = receiver.wait_for(1)
    result = wxpay.callback(paid["headers"], paid["body"])
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert result["resource"]["out_trade_no"] == "T_WXV3_0005"
    assert result["resource"]["trade_state"] == "SUCCESS"
    transaction_id = result["resource"]["transaction_id"]
    assert json.loads(wxpay.query(transaction_id=transaction_id)[1])["trade_state"] == "SUCCESS"

    code, body = wxpay.refund(
        out_refund_no="R_WXV3_0005",
        amount={"refund": 100, "total": 300, "currency": "CNY"},
        transaction_id=transaction_id,
    )
    assert (code, json.loads(body)["status"]) == (200, "PROCESSING")
    httpx.post(server.base_url + "/_sandbox/clock", json={"advance_seconds": 5})
    [_, refunded] = receiver.wait_for(2)
    refund = wxpay.callback(refunded["headers"], refunded["body"])
    assert refund["event_type"] == "REFUND.SUCCESS"
    assert refund["resource"]["refund_status"] == "SUCCESS"
    code, body = wxpay.query_refund(out_refund_no="R_WXV3_0005")
    assert (code, json.loads(body)["status"]) == (200, "SUCCESS")
    code, body = wxpay.refund(
        out_refund_no="R_WXV3_0006",
        amount={"refund": 201, "total": 300, "currency": "CNY"},
        out_trade_no="T_WXV3_0005",
    )
    assert (code, json.loads(body)["code"]) == (403, "NOT_ENOUGH")


def test_a_tampered_notification_is_refused_by_callback(
    wxpay: WeChatPay, sandbox_server: Any, receiver: Any
) -> None:
    _, server = sandbox_server
    body = wxpay.pay(
        description="d", out_trade_no="T_WXV3_0007", amount={"total": 1}, payer={"openid": OPENID}
    )[1]
    httpx.post(server.base_url + "/_sandbox/pay", json={"prepay_id": json.loads(body)["prepay_id"]})
    [paid] = receiver.wait_for(1)
    assert (
        wxpay.callback(
            paid["headers"], paid["body"].replace(b"encrypt-resource", b"encrypt-resourcE")
        )
        is None
    )


def test_the_sdk_downloads_the_certificates_through_the_sandbox(
    sandbox_server: Any, receiver_server: Any, tmp_path: Path
) -> None:
    box, server = sandbox_server
    creds = box.credentials.merchants[1]
    wxpay = _client(creds, server.base_url, receiver_server.base_url + "/notify", tmp_path)
    wxpay._core._certificates.clear()
    wxpay._core._update_certificates()
    [certificate] = wxpay._core._certificates
    assert certificate.serial_number == int(creds.platform_certificate_serial or "", 16)


def test_the_sdk_refuses_an_answer_signed_with_another_key(
    sandbox_server: Any, receiver_server: Any
) -> None:
    box, server = sandbox_server
    mine, other = box.credentials.merchants
    wrong = dataclasses.replace(mine, platform_public_key_pem=_public_pem(other))
    wxpay = _client(wrong, server.base_url, receiver_server.base_url + "/notify")
    # The SDK raises a bare Exception; the message is what tells its failures apart.
    with pytest.raises(Exception, match="failed to verify the signature"):
        wxpay.pay(
            description="d",
            out_trade_no="T_WXV3_0008",
            amount={"total": 1},
            payer={"openid": OPENID},
        )


def _public_pem(creds: MerchantCredentials) -> str:
    from paydesk.protocol.keys import load_private_key, public_key_pem

    return public_key_pem(load_private_key(creds.merchant_private_key_pem).public_key())
