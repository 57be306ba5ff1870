"""v3 apply-abnormal-refund: an ABNORMAL refund sent to a card of the payer or to the merchant,
then settled and notified like any refund; every refusal WeChat-shaped; no card number or name
kept anywhere."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from paydesk.protocol.keys import certificate_public_key, load_certificate, load_public_key
from paydesk.protocol.v3.endpoints import abnormal_refund_path
from paydesk.protocol.v3.models.refunds import Refund
from paydesk.protocol.v3.oaep import SEED_BYTES, oaep_encrypt
from paydesk.sandbox.credentials import MerchantCredentials

REFUNDS = "/v3/refund/domestic/refunds"
CARD = "6222020200112345678"
NAME = "张三丰"
TO_MERCHANT = {"type": "MERCHANT_BANK_CARD"}


def _platform_public_key(creds: MerchantCredentials) -> RSAPublicKey:
    """The key a merchant encrypts sensitive fields with, from the published credentials."""
    if creds.platform_public_key_pem is not None:
        return load_public_key(creds.platform_public_key_pem)
    assert creds.platform_certificate_pem is not None
    return certificate_public_key(load_certificate(creds.platform_certificate_pem))


def _serial(creds: MerchantCredentials) -> dict[str, str]:
    """The ``Wechatpay-Serial`` header naming the merchant's platform key."""
    serial = creds.platform_public_key_id or creds.platform_certificate_serial
    assert serial is not None
    return {"Wechatpay-Serial": serial}


def _seal(creds: MerchantCredentials, text: str) -> str:
    return oaep_encrypt(_platform_public_key(creds), text, seed=secrets.token_bytes(SEED_BYTES))


def _to_card(creds: MerchantCredentials, card: str = CARD, name: str = NAME) -> dict[str, Any]:
    return {
        "type": "USER_BANK_CARD",
        "bank_type": "ICBC_DEBIT",
        "bank_account": _seal(creds, card),
        "real_name": _seal(creds, name),
    }


async def _abnormal(
    merchant: Any, sandbox: Any, number: str, out_trade_no: str = "T_PAID001"
) -> dict[str, Any]:
    """A refund of 40 that WeChat reported ABNORMAL (its REFUND.ABNORMAL already delivered)."""
    body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": number,
        "notify_url": "http://m.test/refunds",
        "amount": {"refund": 40, "total": 100, "currency": "CNY"},
    }
    created = await merchant.call("POST", REFUNDS, body)
    assert created.status_code == 200
    forced = await merchant.client.post(
        "/_sandbox/refund-outcome",
        json={"out_refund_no": number, "status": "ABNORMAL", "mchid": merchant.mchid},
    )
    assert forced.json()["applied"] == "now"
    await sandbox.pay.drain(5)
    refund: dict[str, Any] = (await merchant.call("GET", f"{REFUNDS}/{number}")).json()
    assert refund["status"] == "ABNORMAL"
    return refund


async def _apply(
    merchant: Any, refund: dict[str, Any], body: dict[str, Any], **headers: str
) -> Any:
    payload = {"out_refund_no": refund["out_refund_no"]} | body
    return await merchant.call(
        "POST", abnormal_refund_path(refund["refund_id"]), payload, **headers
    )


async def _status(merchant: Any, number: str) -> str:
    status: str = (await merchant.call("GET", f"{REFUNDS}/{number}")).json()["status"]
    return status


async def _settles_and_is_notified(
    merchant: Any, sandbox: Any, receiver: Any, helpers: Any, number: str, account: str
) -> None:
    sandbox.clock.advance(5)
    assert await sandbox.pay.run_due() == 1
    received = receiver.received[-1]
    assert received["path"] == "/refunds"
    opened = helpers.open_v3(merchant.creds, received)
    assert opened.event_type == "REFUND.SUCCESS"
    notice = opened.refund()
    assert (notice.refund_status, notice.out_refund_no) == ("SUCCESS", number)
    assert notice.user_received_account == account
    queried = Refund.model_validate_json(
        (await merchant.call("GET", f"{REFUNDS}/{number}")).content
    )
    assert (queried.status, queried.channel, queried.user_received_account) == (
        "SUCCESS",
        "OTHER_BANKCARD",
        account,
    )
    assert queried.success_time is not None


# -- accepted ------------------------------------------------------------------------------------


async def test_a_payer_card_takes_an_abnormal_refund_which_then_succeeds(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_A001")
    assert (refund["channel"], refund["user_received_account"]) == ("ORIGINAL", "支付用户零钱")
    sandbox.clock.advance(60)
    sandbox.clock.set_speed(0.001)  # only the jumps count from here, however loaded the machine

    answer = await _apply(v3, refund, _to_card(v3.creds), **_serial(v3.creds))

    assert answer.status_code == 200, answer.text
    applied = Refund.model_validate_json(answer.content)
    assert (applied.refund_id, applied.status, applied.amount.refund) == (
        refund["refund_id"],
        "PROCESSING",
        40,
    )
    assert (applied.channel, applied.user_received_account) == (
        "OTHER_BANKCARD",
        "工商银行借记卡5678",
    )
    assert await _status(v3, "R_A001") == "PROCESSING"
    sandbox.clock.advance(4.9)
    assert await sandbox.pay.run_due() == 0  # settles refund_delay_seconds after the apply
    await _settles_and_is_notified(v3, sandbox, receiver, helpers, "R_A001", "工商银行借记卡5678")


async def test_a_certificate_mode_merchant_names_its_platform_certificate(
    v3_cert: Any, sandbox: Any, receiver: Any, helpers: Any
) -> None:
    await v3_cert.paid("T_CERT001")
    await sandbox.pay.drain(5)
    refund = await _abnormal(v3_cert, sandbox, "R_A002", "T_CERT001")
    serial = v3_cert.creds.platform_certificate_serial
    body = _to_card(v3_cert.creds) | {"bank_type": "CMB_DEBIT"}

    # A serial is a hex number: case and leading zeros do not matter.
    answer = await _apply(v3_cert, refund, body, **{"Wechatpay-Serial": "00" + serial.lower()})

    assert answer.status_code == 200, answer.text
    assert answer.json()["user_received_account"] == "招商银行借记卡5678"
    await _settles_and_is_notified(
        v3_cert, sandbox, receiver, helpers, "R_A002", "招商银行借记卡5678"
    )


async def test_the_merchants_account_takes_an_abnormal_refund_without_any_card(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_A003")

    answer = await _apply(v3, refund, TO_MERCHANT)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "PROCESSING"
    assert (answer.json()["channel"], answer.json()["user_received_account"]) == (
        "OTHER_BANKCARD",
        "商户银行账户",
    )
    await _settles_and_is_notified(v3, sandbox, receiver, helpers, "R_A003", "商户银行账户")


async def test_an_outcome_armed_for_the_first_attempt_does_not_repeat_after_the_apply(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any, paid_order: dict[str, Any]
) -> None:
    armed = await v3.client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_A004", "status": "ABNORMAL"}
    )
    assert armed.json()["applied"] == "armed"
    body = {
        "out_trade_no": "T_PAID001",
        "out_refund_no": "R_A004",
        "notify_url": "http://m.test/refunds",
    }
    created = await v3.call("POST", REFUNDS, body | {"amount": {"refund": 40, "total": 100}})
    sandbox.clock.advance(5)
    await sandbox.pay.run_due()
    refund = (await v3.call("GET", f"{REFUNDS}/R_A004")).json()
    assert refund["status"] == "ABNORMAL"
    assert refund["refund_id"] == created.json()["refund_id"]

    assert (await _apply(v3, refund, TO_MERCHANT)).status_code == 200

    await _settles_and_is_notified(v3, sandbox, receiver, helpers, "R_A004", "商户银行账户")


async def test_a_refund_that_fell_abnormal_on_virtual_time_is_seen_as_abnormal(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    await v3.client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": "R_A005", "status": "ABNORMAL"}
    )
    body = {"out_trade_no": "T_PAID001", "out_refund_no": "R_A005"}
    created = await v3.call("POST", REFUNDS, body | {"amount": {"refund": 40, "total": 100}})
    sandbox.clock.advance(5)  # due, but nothing asked yet: the apply settles it first

    answer = await _apply(v3, created.json(), TO_MERCHANT)

    assert answer.status_code == 200, answer.text


# -- refused -------------------------------------------------------------------------------------


async def test_an_unknown_refund_id_is_resource_not_exists(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B001")
    unknown = refund | {"refund_id": "50300000000000000000000000000"}

    answer = await _apply(v3, unknown, TO_MERCHANT)

    assert answer.status_code == 404
    assert answer.json() == {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}


async def test_another_merchants_refund_is_resource_not_exists(
    v3: Any, v3_cert: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B002")

    answer = await _apply(v3_cert, refund, TO_MERCHANT)

    assert answer.status_code == 404
    assert answer.json()["code"] == "RESOURCE_NOT_EXISTS"
    assert await _status(v3, "R_B002") == "ABNORMAL"


async def test_an_out_refund_no_of_another_refund_is_param_error(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B003")

    answer = await _apply(v3, refund, TO_MERCHANT | {"out_refund_no": "R_OTHER"})

    assert answer.status_code == 400
    assert answer.json()["code"] == "PARAM_ERROR"
    assert answer.json()["detail"]["field"] == "/out_refund_no"
    assert "refund_id" in answer.json()["message"]
    assert await _status(v3, "R_B003") == "ABNORMAL"


async def test_a_refund_that_is_not_abnormal_is_invalid_request(
    v3: Any, paid_order: dict[str, Any]
) -> None:
    body = {"out_trade_no": "T_PAID001", "out_refund_no": "R_B004"}
    created = await v3.call("POST", REFUNDS, body | {"amount": {"refund": 40, "total": 100}})

    answer = await _apply(v3, created.json(), _to_card(v3.creds), **_serial(v3.creds))

    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert "PROCESSING" in answer.json()["message"]
    assert "ABNORMAL" in answer.json()["message"]


async def test_a_second_apply_is_invalid_request_while_processing_and_after_success(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B005")
    assert (await _apply(v3, refund, TO_MERCHANT)).status_code == 200

    again = await _apply(v3, refund, _to_card(v3.creds), **_serial(v3.creds))
    assert (again.status_code, again.json()["code"]) == (400, "INVALID_REQUEST")
    assert "PROCESSING" in again.json()["message"]

    sandbox.clock.advance(5)
    late = await _apply(v3, refund, TO_MERCHANT)
    assert (late.status_code, late.json()["code"]) == (400, "INVALID_REQUEST")
    assert "SUCCESS" in late.json()["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Wechatpay-Serial": "PUB_KEY_ID_0000000000000000000000000000000000"}],
    ids=["missing", "unknown"],
)
async def test_a_payer_card_needs_the_merchants_platform_key_in_wechatpay_serial(
    v3: Any, sandbox: Any, paid_order: dict[str, Any], headers: dict[str, str]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B006")

    answer = await _apply(v3, refund, _to_card(v3.creds), **headers)

    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == "PARAM_ERROR"
    assert (error["detail"]["field"], error["detail"]["location"]) == ("Wechatpay-Serial", "header")
    assert await _status(v3, "R_B006") == "ABNORMAL"


async def test_the_other_merchants_platform_key_is_not_this_merchants(
    v3: Any, v3_cert: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B007")

    answer = await _apply(v3, refund, _to_card(v3_cert.creds), **_serial(v3_cert.creds))

    assert (answer.status_code, answer.json()["code"]) == (400, "PARAM_ERROR")
    assert answer.json()["detail"]["field"] == "Wechatpay-Serial"


@pytest.mark.parametrize(
    ("field", "ciphertext"),
    [
        ("bank_account", "other key"),
        ("real_name", "other key"),
        ("bank_account", "not base64!"),
        ("bank_account", CARD + "0"),  # base64 characters, but no RSA ciphertext
    ],
)
async def test_a_field_that_does_not_decrypt_is_param_error(
    v3: Any,
    v3_cert: Any,
    sandbox: Any,
    paid_order: dict[str, Any],
    field: str,
    ciphertext: str,
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B008")
    body = _to_card(v3.creds)
    body[field] = _seal(v3_cert.creds, CARD) if ciphertext == "other key" else ciphertext

    answer = await _apply(v3, refund, body, **_serial(v3.creds))

    assert (answer.status_code, answer.json()["code"]) == (400, "PARAM_ERROR")
    assert answer.json()["detail"]["field"] == f"/{field}"
    assert "解密失败" in answer.json()["message"]
    assert await _status(v3, "R_B008") == "ABNORMAL"


@pytest.mark.parametrize(
    ("card", "name", "field"),
    [
        ("62220202001", NAME, "/bank_account"),  # 11 digits
        ("6" * 31, NAME, "/bank_account"),
        ("6222-0202-0011-2345", NAME, "/bank_account"),
        ("６２２２０２０２００１１２３４５６７８", NAME, "/bank_account"),  # full-width digits
        ("", NAME, "/bank_account"),
        (CARD, " ", "/real_name"),
        (CARD, "", "/real_name"),
    ],
)
async def test_a_card_that_is_no_card_number_or_no_name_is_param_error(
    v3: Any, sandbox: Any, paid_order: dict[str, Any], card: str, name: str, field: str
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B009")

    answer = await _apply(v3, refund, _to_card(v3.creds, card, name), **_serial(v3.creds))

    assert (answer.status_code, answer.json()["code"]) == (400, "PARAM_ERROR")
    assert answer.json()["detail"]["field"] == field
    assert CARD not in answer.text
    assert await _status(v3, "R_B009") == "ABNORMAL"


@pytest.mark.parametrize(
    "body",
    [
        {"bank_type": "ICBC_DEBIT"},
        {"type": "USER_BANKCARD"},
        {"type": "MERCHANT_BANK_CARD", "bank_type": "ICBC_DEBIT"},
        {"type": "USER_BANK_CARD", "bank_type": "ICBC_DEBIT", "bank_account": "x"},
        {
            "type": "USER_BANK_CARD",
            "bank_type": "MOON_DEBIT",
            "bank_account": "x",
            "real_name": "y",
        },
        {"type": "MERCHANT_BANK_CARD", "out_refund_no": ""},
        {"type": "MERCHANT_BANK_CARD", "amount": 1},
    ],
)
async def test_an_invalid_body_is_param_error(
    v3: Any, sandbox: Any, paid_order: dict[str, Any], body: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B010")

    answer = await _apply(v3, refund, body, **_serial(v3.creds))

    assert (answer.status_code, answer.json()["code"]) == (400, "PARAM_ERROR")
    assert await _status(v3, "R_B010") == "ABNORMAL"


async def test_a_body_that_is_not_json_is_param_error(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B011")
    path, body = abnormal_refund_path(refund["refund_id"]), b"out_refund_no=R_B011"
    headers = {"Authorization": v3.authorization("POST", path, body), "Accept": "*/*"}

    answer = await v3.client.post(path, content=body, headers=headers)

    assert (answer.status_code, answer.json()["code"]) == (400, "PARAM_ERROR")


async def test_a_bad_signature_is_sign_error_and_changes_nothing(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B012")
    path = abnormal_refund_path(refund["refund_id"])
    signed = json.dumps({"out_refund_no": "R_B012", "type": "MERCHANT_BANK_CARD"}).encode()
    sent = json.dumps({"out_refund_no": "R_B012", "type": "MERCHANT_BANK_CARD", "x": 1}).encode()
    headers = {"Authorization": v3.authorization("POST", path, signed), "Accept": "*/*"}

    answer = await v3.client.post(path, content=sent, headers=headers)

    assert (answer.status_code, answer.json()["code"]) == (401, "SIGN_ERROR")
    assert not any(h.lower().startswith("wechatpay-") for h in answer.headers)
    assert await _status(v3, "R_B012") == "ABNORMAL"


async def test_accept_and_user_agent_are_required_as_on_every_refund_path(
    v3: Any, sandbox: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_B013")

    answer = await _apply(v3, refund, TO_MERCHANT, **{"User-Agent": ""})

    assert answer.status_code == 400
    assert answer.json() == {"code": "INVALID_REQUEST", "message": "Http头缺少Accept或User-Agent"}
    assert await _status(v3, "R_B013") == "ABNORMAL"


# -- nothing kept --------------------------------------------------------------------------------


async def test_the_card_number_and_name_are_kept_nowhere(
    v3: Any, sandbox: Any, receiver: Any, helpers: Any, paid_order: dict[str, Any]
) -> None:
    refund = await _abnormal(v3, sandbox, "R_C001")
    seen = [(await _apply(v3, refund, _to_card(v3.creds), **_serial(v3.creds))).text]
    seen.append((await _apply(v3, refund, _to_card(v3.creds), **_serial(v3.creds))).text)
    sandbox.clock.advance(5)
    await sandbox.pay.run_due()
    opened = helpers.open_v3(v3.creds, receiver.received[-1])
    seen.append(opened.plaintext.decode())
    seen.append((await v3.call("GET", f"{REFUNDS}/R_C001")).text)
    seen.append((await v3.client.get("/_sandbox/orders")).text)
    seen.append((await v3.client.get("/_sandbox/notifications")).text)
    seen.append((await v3.client.get("/_sandbox/log")).text)
    [record] = sandbox.pay.book.refunds()
    seen.append(repr(record))
    seen.extend(repr(order.history) for order in sandbox.pay.book.orders())

    everything = "\n".join(seen)
    assert CARD not in everything
    assert NAME not in everything
    assert record.redirect is not None
    assert (record.redirect.type, record.redirect.bank_type, record.redirect.card_tail) == (
        "USER_BANK_CARD",
        "ICBC_DEBIT",
        "5678",
    )
