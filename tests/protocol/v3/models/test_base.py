"""Shared model rules: strict requests, lenient responses, integer fen, MalformedInput."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.models import Amount, ErrorBody, Transaction, parse_json


def test_error_body_keeps_unknown_fields() -> None:
    # The Go SDK's test body, plus a field WeChat might add one day.
    body = parse_json(ErrorBody, b'{"code":"SIGN_ERROR","message":"sign error","x":1}')
    assert (body.code, body.message, body.detail) == ("SIGN_ERROR", "sign error", None)
    assert body.model_extra == {"x": 1}


def test_error_body_detail_is_free_form() -> None:
    raw = '{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"amount.total"}}'
    assert parse_json(ErrorBody, raw).detail == {"field": "amount.total"}


def test_parse_json_names_the_bad_field() -> None:
    raw = b'{"appid":"wx1","mchid":"1","out_trade_no":"T000001","trade_state":"SUCCESS",'
    with pytest.raises(MalformedInput) as info:
        parse_json(Transaction, raw + b'"amount":{"total":1.5}}')
    assert info.value.field == "amount.total"
    with pytest.raises(MalformedInput) as info:
        parse_json(Transaction, b"not json")
    assert info.value.field == "body"


@pytest.mark.parametrize("total", [0, -1, 1.0, "100", True, None])
def test_request_amounts_are_strictly_positive_ints(total: object) -> None:
    with pytest.raises(ValidationError):
        Amount(total=total)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b'{"total":100.0}', b'{"total":"100"}', b'{"total":1e2}'])
def test_request_amounts_refuse_json_floats_and_strings(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        Amount.model_validate_json(raw)


def test_requests_refuse_unknown_fields_and_other_currencies() -> None:
    with pytest.raises(ValidationError):
        Amount.model_validate({"total": 1, "currencyy": "CNY"})
    with pytest.raises(ValidationError):
        Amount(total=1, currency="USD")  # type: ignore[arg-type]


def test_requests_are_frozen() -> None:
    amount = Amount(total=1)
    with pytest.raises(ValidationError):
        amount.total = 2  # type: ignore[misc]


def test_to_json_is_compact_utf8_without_nulls() -> None:
    assert Amount(total=100).to_json() == b'{"total":100,"currency":"CNY"}'
