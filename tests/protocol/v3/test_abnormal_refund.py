"""apply-abnormal-refund: the path, and the request's field rules per destination type."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import ValidationError

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.endpoints import REFUND_ABNORMAL, abnormal_refund_path
from paydesk.protocol.v3.models import (
    ABNORMAL_REFUND_BANKS,
    AbnormalRefundRequest,
    Refund,
    parse_json,
)
from paydesk.protocol.v3.oaep import SEED_BYTES, oaep_decrypt, oaep_encrypt

REFUND_ID = "50000000382019052709732678859"
USER_CARD: dict[str, Any] = {
    "out_refund_no": "R0001",
    "type": "USER_BANK_CARD",
    "bank_type": "ICBC_DEBIT",
    "bank_account": "ciphertext-of-the-card-number",
    "real_name": "ciphertext-of-the-name",
}


# ---------------------------------------------------------------- the path


def test_the_endpoint_is_a_post_with_the_refund_id_in_the_path() -> None:
    assert REFUND_ABNORMAL.method == "POST"
    assert REFUND_ABNORMAL.segments == ("refund_id",)
    assert REFUND_ABNORMAL.query == ()
    assert REFUND_ABNORMAL.doc == (
        "https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html"
    )
    assert abnormal_refund_path(REFUND_ID) == (
        f"/v3/refund/domestic/refunds/{REFUND_ID}/apply-abnormal-refund"
    )


def test_the_refund_id_is_percent_encoded_slash_included() -> None:
    assert abnormal_refund_path("50/0 1") == (
        "/v3/refund/domestic/refunds/50%2F0%201/apply-abnormal-refund"
    )


def test_an_empty_refund_id_is_refused() -> None:
    with pytest.raises(MalformedInput) as caught:
        abnormal_refund_path("")
    assert caught.value.field == "refund_id"


# ---------------------------------------------------------------- valid requests


def test_user_bank_card_sends_every_bank_field_in_order() -> None:
    request = AbnormalRefundRequest(**USER_CARD)
    assert request.to_json() == (
        b'{"out_refund_no":"R0001","type":"USER_BANK_CARD","bank_type":"ICBC_DEBIT",'
        b'"bank_account":"ciphertext-of-the-card-number","real_name":"ciphertext-of-the-name"}'
    )
    assert AbnormalRefundRequest.model_validate_json(request.to_json()) == request


def test_merchant_bank_card_sends_no_bank_field() -> None:
    request = AbnormalRefundRequest(out_refund_no="R0001", type="MERCHANT_BANK_CARD")
    assert json.loads(request.to_json()) == {"out_refund_no": "R0001", "type": "MERCHANT_BANK_CARD"}


@pytest.mark.parametrize("bank", ABNORMAL_REFUND_BANKS)
def test_every_listed_bank_is_accepted(bank: str) -> None:
    assert AbnormalRefundRequest(**USER_CARD | {"bank_type": bank}).bank_type == bank


def test_the_bank_list_is_debit_cards_only_without_repeats() -> None:
    assert len(set(ABNORMAL_REFUND_BANKS)) == len(ABNORMAL_REFUND_BANKS) == 15
    assert all(bank.endswith("_DEBIT") for bank in ABNORMAL_REFUND_BANKS)


def test_encrypted_fields_of_a_2048_bit_key_fit_and_decrypt(platform_key: RSAPrivateKey) -> None:
    seed, key = bytes(range(SEED_BYTES)), platform_key.public_key()
    sealed = {
        "bank_account": oaep_encrypt(key, "6222020000000000000", seed=seed),
        "real_name": oaep_encrypt(key, "张三", seed=seed),
    }
    request = AbnormalRefundRequest(**USER_CARD | sealed)
    assert request.bank_account is not None
    assert request.real_name is not None
    assert oaep_decrypt(platform_key, request.bank_account) == "6222020000000000000"
    assert oaep_decrypt(platform_key, request.real_name) == "张三"


def test_the_answer_is_a_refund_now_processing() -> None:
    body = {
        "refund_id": REFUND_ID,
        "out_refund_no": "R0001",
        "transaction_id": "4200000000000000000000000001",
        "out_trade_no": "T0001",
        "channel": "ORIGINAL",
        "user_received_account": "工商银行借记卡0000",
        "create_time": "2024-01-31T10:00:00+08:00",
        "status": "PROCESSING",
        "funds_account": "AVAILABLE",
        "amount": {"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100},
    }
    refund = parse_json(Refund, json.dumps(body, ensure_ascii=False).encode())
    assert (refund.refund_id, refund.status) == (REFUND_ID, "PROCESSING")


# ---------------------------------------------------------------- refused requests


@pytest.mark.parametrize("missing", ["bank_type", "bank_account", "real_name"])
def test_user_bank_card_needs_all_three_bank_fields(missing: str) -> None:
    fields = {name: value for name, value in USER_CARD.items() if name != missing}
    with pytest.raises(ValidationError, match="USER_BANK_CARD needs bank_type"):
        AbnormalRefundRequest(**fields)


@pytest.mark.parametrize("extra", ["bank_type", "bank_account", "real_name"])
def test_merchant_bank_card_takes_no_bank_field(extra: str) -> None:
    fields = {"out_refund_no": "R0001", "type": "MERCHANT_BANK_CARD", extra: USER_CARD[extra]}
    with pytest.raises(ValidationError, match="MERCHANT_BANK_CARD takes no"):
        AbnormalRefundRequest(**fields)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "WALLET"}, "type"),
        ({"bank_type": "ICBC_CREDIT"}, "bank_type"),
        ({"bank_type": "icbc_debit"}, "bank_type"),
        ({"bank_account": ""}, "bank_account"),
        ({"real_name": ""}, "real_name"),
        ({"bank_account": "x" * 1025}, "bank_account"),
        ({"real_name": "x" * 1025}, "real_name"),
        ({"out_refund_no": ""}, "out_refund_no"),
        ({"out_refund_no": "R" * 65}, "out_refund_no"),
        ({"refund_id": REFUND_ID}, "refund_id"),
    ],
)
def test_out_of_bounds_fields_are_refused(change: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AbnormalRefundRequest(**USER_CARD | change)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_a_request_is_immutable() -> None:
    request = AbnormalRefundRequest(out_refund_no="R0001", type="MERCHANT_BANK_CARD")
    with pytest.raises(ValidationError):
        request.out_refund_no = "R0002"  # type: ignore[misc]
