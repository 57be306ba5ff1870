"""APIv3 hosts and paths: exact request-URIs, percent-encoding, and refusals."""

from __future__ import annotations

from datetime import date

import pytest

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v3.endpoints import (
    API_BACKUP_HOST,
    API_HOST,
    CERTIFICATES,
    CLOSE,
    PREPAY,
    QUERY_BY_OUT_TRADE_NO,
    REFUND_CREATE,
    REFUND_QUERY,
    TRADEBILL,
    Endpoint,
    close_path,
    prepay_path,
    query_by_out_trade_no_path,
    query_by_transaction_id_path,
    refund_query_path,
    tradebill_path,
)


def test_hosts() -> None:
    assert API_HOST == "https://api.mch.weixin.qq.com"
    assert API_BACKUP_HOST == "https://api2.mch.weixin.qq.com"


@pytest.mark.parametrize("channel", ["jsapi", "app", "h5", "native"])
def test_prepay_paths(channel: str) -> None:
    assert prepay_path(channel) == f"/v3/pay/transactions/{channel}"  # type: ignore[arg-type]
    assert PREPAY[channel].method == "POST"  # type: ignore[index]


def test_query_paths_carry_the_mchid() -> None:
    # The exact URL of PROTOCOL.md §1.2's signing example.
    assert query_by_out_trade_no_path("X1", mchid="1900007291") == (
        "/v3/pay/transactions/out-trade-no/X1?mchid=1900007291"
    )
    assert query_by_transaction_id_path("4200000001", mchid="1900007291") == (
        "/v3/pay/transactions/id/4200000001?mchid=1900007291"
    )
    assert QUERY_BY_OUT_TRADE_NO.method == "GET"


def test_every_out_trade_no_character_is_sent_safely() -> None:
    # [0-9A-Za-z_-|*]: "|" and "*" are percent-encoded, like Go's url.PathEscape.
    assert close_path("ab-_|*09") == "/v3/pay/transactions/out-trade-no/ab-_%7C%2A09/close"
    assert CLOSE.method == "POST"
    assert query_by_out_trade_no_path("a/b?c", mchid="1 2") == (
        "/v3/pay/transactions/out-trade-no/a%2Fb%3Fc?mchid=1+2"
    )


def test_refund_certificate_and_bill_paths() -> None:
    assert REFUND_CREATE.path() == "/v3/refund/domestic/refunds"
    assert refund_query_path("123123123123") == "/v3/refund/domestic/refunds/123123123123"
    assert REFUND_QUERY.segments == ("out_refund_no",)
    assert CERTIFICATES.path() == "/v3/certificates"
    assert tradebill_path(date(2024, 1, 31)) == (
        "/v3/bill/tradebill?bill_date=2024-01-31&bill_type=ALL"
    )
    assert tradebill_path(date(2024, 2, 1), "SUCCESS").endswith("bill_type=SUCCESS")
    assert TRADEBILL.query == ("bill_date", "bill_type")


def test_path_refuses_missing_extra_and_empty_values() -> None:
    endpoint = Endpoint("GET", "/v3/x/{a}", ("b",))
    assert endpoint.path(a="1", b="2") == "/v3/x/1?b=2"
    with pytest.raises(MalformedInput, match="takes"):
        endpoint.path(a="1")
    with pytest.raises(MalformedInput, match="takes"):
        endpoint.path(a="1", b="2", c="3")
    with pytest.raises(MalformedInput) as info:
        endpoint.path(a="", b="2")
    assert info.value.field == "a"
