"""paydesk.protocol.v2.endpoints: the v2 paths as data."""

from __future__ import annotations

import dataclasses

import pytest

from paydesk.protocol.v2.codec import parse_v2_fields
from paydesk.protocol.v2.endpoints import (
    CLOSE_ORDER,
    ENDPOINTS,
    ORDER_QUERY,
    REFUND,
    REFUND_QUERY,
    UNIFIED_ORDER,
    V2_HOST,
)
from paydesk.protocol.v2.models import (
    CloseOrderResponse,
    OrderQueryResponse,
    RefundQueryResponse,
    RefundResponse,
    UnifiedOrderResponse,
)


def test_the_five_paths_and_their_reply_models() -> None:
    assert V2_HOST == "https://api.mch.weixin.qq.com"
    assert {path: e.response for path, e in ENDPOINTS.items()} == {
        "/pay/unifiedorder": UnifiedOrderResponse,
        "/pay/orderquery": OrderQueryResponse,
        "/pay/closeorder": CloseOrderResponse,
        "/secapi/pay/refund": RefundResponse,
        "/pay/refundquery": RefundQueryResponse,
    }
    assert [e.path for e in ENDPOINTS.values() if e.client_cert] == ["/secapi/pay/refund"]
    assert {e.method for e in ENDPOINTS.values()} == {"POST"}
    assert all(e.doc.startswith("https://pay.weixin.qq.com/") for e in ENDPOINTS.values())


def test_endpoints_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        REFUND.path = "/elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ENDPOINTS["/x"] = REFUND  # type: ignore[index]


def test_the_official_unifiedorder_sample_lacks_nothing(samples: dict[str, str]) -> None:
    assert UNIFIED_ORDER.missing(parse_v2_fields(samples["unifiedorder_request_xml"])) == []


def test_missing_lists_required_fields_and_one_of_groups() -> None:
    signed = {"appid": "wx1", "mch_id": "1", "nonce_str": "n", "sign": "S"}
    assert ORDER_QUERY.missing(signed) == ["transaction_id|out_trade_no"]
    assert ORDER_QUERY.missing({**signed, "out_trade_no": "o1"}) == []
    assert CLOSE_ORDER.missing({**signed, "out_trade_no": ""}) == ["out_trade_no"]
    assert REFUND.missing({**signed, "transaction_id": "t1"}) == [
        "out_refund_no",
        "total_fee",
        "refund_fee",
    ]
    assert REFUND_QUERY.missing({**signed, "refund_id": "5001"}) == []
    assert UNIFIED_ORDER.missing({}) == list(UNIFIED_ORDER.required)
