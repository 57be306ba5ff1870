"""/v3/certificates in both key modes, and the trade bill with its download."""

from __future__ import annotations

import gzip
import hashlib
from datetime import timedelta
from typing import Any

import pytest

from paydesk.protocol.keys import certificate_serial
from paydesk.protocol.times import BEIJING
from paydesk.protocol.v3.certificates import decrypt_certificates


async def test_certificate_mode_gets_its_platform_certificate_encrypted(v3_cert: Any) -> None:
    response = await v3_cert.call("GET", "/v3/certificates")
    assert response.status_code == 200
    [cert] = decrypt_certificates(response.content, v3_cert.creds.apiv3_key)
    assert cert.serial_no == v3_cert.creds.platform_certificate_serial
    assert certificate_serial(cert.certificate) == response.headers["Wechatpay-Serial"]
    assert cert.pem == v3_cert.creds.platform_certificate_pem
    assert cert.expire_time > cert.effective_time


async def test_public_key_mode_is_told_to_use_the_public_key(v3: Any) -> None:
    response = await v3.call("GET", "/v3/certificates")
    assert response.status_code == 404
    assert response.json() == {
        "code": "RESOURCE_NOT_EXISTS",
        "message": "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。",
    }


def _bill_url(day: str, bill_type: str = "ALL", tar: str | None = None) -> str:
    url = f"/v3/bill/tradebill?bill_date={day}&bill_type={bill_type}"
    return url + (f"&tar_type={tar}" if tar else "")


async def _paid_and_refunded(v3: Any, sandbox: Any) -> str:
    await v3.paid("T_BILL0001", attach="a")
    await v3.paid("T_BILL0002", "native")
    amount = {"refund": 30, "total": 100, "currency": "CNY"}
    refund = {"out_trade_no": "T_BILL0001", "out_refund_no": "R_BILL01", "amount": amount}
    await v3.call("POST", "/v3/refund/domestic/refunds", refund)
    sandbox.clock.advance(5)
    await sandbox.pay.run_due()
    day = sandbox.clock.now().astimezone(BEIJING).date().isoformat()
    sandbox.clock.advance(86400)
    return day


async def test_a_bill_lists_the_days_payments_and_refunds(v3: Any, sandbox: Any) -> None:
    day = await _paid_and_refunded(v3, sandbox)
    answer = (await v3.call("GET", _bill_url(day))).json()
    assert answer["hash_type"] == "SHA1"
    assert answer["download_url"].startswith("http://sandbox.test/v3/billdownload/file?token=")
    path = answer["download_url"].removeprefix("http://sandbox.test")
    download = await v3.client.get(
        path, headers={"Authorization": v3.authorization("GET", path, b"")}
    )
    assert download.status_code == 200
    assert hashlib.sha1(download.content).hexdigest() == answer["hash_value"]
    lines = download.content.decode().split("\r\n")
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    rows = [line for line in lines[1:] if line.startswith("`20")]
    assert len(rows) == 3
    assert sum(",`REFUND," in row for row in rows) == 1
    assert lines[-2] == "`3,`2.00,`0.30,`0.00,`0.02,`2.00,`0.30"  # fee: 2 × 0.6 % of 1.00, 0 back


async def test_bill_types_and_gzip(v3: Any, sandbox: Any) -> None:
    day = await _paid_and_refunded(v3, sandbox)
    success = (await v3.call("GET", _bill_url(day, "SUCCESS", "GZIP"))).json()
    path = success["download_url"].removeprefix("http://sandbox.test")
    download = await v3.client.get(
        path, headers={"Authorization": v3.authorization("GET", path, b"")}
    )
    assert hashlib.sha1(download.content).hexdigest() == success["hash_value"]
    text = gzip.decompress(download.content).decode()
    assert ",`REFUND," not in text
    refund = (await v3.call("GET", _bill_url(day, "REFUND"))).json()
    path = refund["download_url"].removeprefix("http://sandbox.test")
    refunds_only = await v3.client.get(
        path, headers={"Authorization": v3.authorization("GET", path, b"")}
    )
    assert refunds_only.text.count(",`SUCCESS,") == 1  # the refund row's status, no payment row


async def test_another_merchant_cannot_download_a_bill(v3: Any, v3_cert: Any, sandbox: Any) -> None:
    day = (sandbox.clock.now() - timedelta(days=1)).astimezone(BEIJING).date().isoformat()
    url = (await v3.call("GET", _bill_url(day))).json()["download_url"]
    path = url.removeprefix("http://sandbox.test")
    theirs = await v3_cert.client.get(
        path, headers={"Authorization": v3_cert.authorization("GET", path, b"")}
    )
    unknown = await v3.client.get(
        "/v3/billdownload/file?token=x",
        headers={"Authorization": v3.authorization("GET", "/v3/billdownload/file?token=x", b"")},
    )
    assert theirs.status_code == unknown.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bill_date=2026-13-01&bill_type=ALL", "bill_date"),
        ("bill_type=ALL", "bill_date"),
        ("bill_date=2020-01-01&bill_type=EVERYTHING", "bill_type"),
        ("bill_date=2020-01-01&bill_type=ALL&tar_type=ZIP", "tar_type"),
    ],
)
async def test_bad_bill_queries_are_param_error(v3: Any, query: str, field: str) -> None:
    response = await v3.call("GET", f"/v3/bill/tradebill?{query}")
    assert response.status_code == 400
    assert response.json()["detail"]["field"] == field
    assert response.json()["detail"]["location"] == "query"


async def test_todays_bill_does_not_exist_yet(v3: Any, sandbox: Any) -> None:
    today = sandbox.clock.now().astimezone(BEIJING).date().isoformat()
    response = await v3.call("GET", _bill_url(today))
    assert response.status_code == 400
    assert response.json()["code"] == "NO_STATEMENT_EXIST"
