"""paydesk.protocol.v2.codec: flat v2 bodies, signed bodies, strict amounts."""

from __future__ import annotations

import pytest

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v2.codec import (
    fen,
    optional_fen,
    optional_text,
    parse_v2_fields,
    required_text,
    signed_xml,
)
from paydesk.protocol.v2.sign import verify_v2

# The APIv2 key of the official signing example (PROTOCOL.md §2.1), reused as our merchant's.
TEST_KEY = "192006250b4c09247ec02edce69f6a2d"


def test_the_official_unifiedorder_sample_parses_flat(samples: dict[str, str]) -> None:
    fields = parse_v2_fields(samples["unifiedorder_request_xml"].encode())
    assert fields["body"] == "JSAPI支付测试"
    assert fields["detail"].startswith('{ "goods_detail":[')
    assert fields["total_fee"] == "1"
    assert all(isinstance(value, str) for value in fields.values())


def test_nested_elements_are_refused_in_v2() -> None:
    with pytest.raises(MalformedInput, match="deeper than 1 levels"):
        parse_v2_fields(b"<xml><a><b>1</b></a></xml>")


def test_the_root_can_be_named() -> None:
    assert parse_v2_fields(b"<root><a>1</a></root>", root="root") == {"a": "1"}
    with pytest.raises(MalformedInput, match="expected <xml>"):
        parse_v2_fields(b"<root><a>1</a></root>")


def test_signed_xml_signs_what_it_renders_and_replaces_a_stale_sign() -> None:
    body = signed_xml(
        {"appid": "wx1", "total_fee": 100, "sign": "STALE"}, key=TEST_KEY, sign_type="HMAC-SHA256"
    )
    fields = parse_v2_fields(body)
    assert fields["sign"] != "STALE"
    assert list(fields) == ["appid", "total_fee", "sign"]
    verify_v2(fields, TEST_KEY, "HMAC-SHA256")


@pytest.mark.parametrize(
    ("text", "amount"), [("0", 0), ("1", 1), ("100", 100), ("9" * 18, 10**18 - 1)]
)
def test_fen_reads_whole_numbers(text: str, amount: int) -> None:
    assert fen({"total_fee": text}, "total_fee") == amount
    assert optional_fen({"total_fee": text}, "total_fee") == amount


@pytest.mark.parametrize(
    "text", ["-1", "+1", " 1", "1 ", "1.0", "1e3", "0x1", "1_000", "١", "9" * 19]
)
def test_fen_refuses_anything_else(text: str) -> None:
    with pytest.raises(MalformedInput, match="not a whole number of fen") as caught:
        fen({"total_fee": text}, "total_fee")
    assert caught.value.field == "total_fee"


def test_missing_fields() -> None:
    with pytest.raises(MalformedInput, match="total_fee is missing") as caught:
        fen({}, "total_fee")
    assert caught.value.field == "total_fee"
    with pytest.raises(MalformedInput, match="appid is missing"):
        required_text({"appid": ""}, "appid")
    assert optional_fen({}, "cash_fee") is None
    assert optional_fen({"cash_fee": ""}, "cash_fee") is None
    assert optional_text({}, "attach") is None
    assert optional_text({"attach": ""}, "attach") is None
    assert optional_text({"attach": "a"}, "attach") == "a"
