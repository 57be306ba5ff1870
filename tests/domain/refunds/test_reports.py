"""WeChat's refund answers and notifications, v3 and v2, as one RefundReport."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from paydesk.domain.refunds.reports import (
    RefundReport,
    report_from_v2,
    report_from_v2_accepted,
    report_from_v3,
)
from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v2.models import RefundQueryItem, RefundQueryResponse, RefundResponse
from paydesk.protocol.v2.notify import V2RefundResult
from paydesk.protocol.v3.models import Refund, RefundAmount, RefundNotification

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "refund_vectors.json").read_text("utf-8")
)


def _check(report: RefundReport, expected: dict[str, Any]) -> None:
    assert report.mchid == expected["mchid"]
    assert report.out_refund_no == expected["out_refund_no"]
    assert report.status == expected["status"]
    assert report.refund_id == expected["refund_id"]
    assert report.refund == expected["refund"]
    assert report.total == expected["total"]
    assert report.success_time is not None
    assert report.success_time.astimezone(UTC).isoformat() == expected["success_time_utc"]


def test_the_official_v3_refund_notification() -> None:
    vector = VECTORS["v3_refund_notification_plaintext"]
    notification = RefundNotification.model_validate(vector["plaintext"])
    report = report_from_v3(notification)
    _check(report, vector["expected"])
    assert report.out_trade_no == "20150806125346"


def test_a_real_v2_refundquery_reply() -> None:
    vector = VECTORS["v2_refundquery_reply"]
    reply = RefundQueryResponse.from_fields(vector["fields"])
    (item,) = reply.refunds
    report = report_from_v2(
        item,
        mchid=vector["fields"]["mch_id"],
        out_trade_no=reply.out_trade_no,
        total=reply.total_fee,
    )
    _check(report, vector["expected"])
    assert report.out_trade_no == vector["expected"]["out_trade_no"]


def test_a_v3_refund_answer_needs_the_asking_merchant() -> None:
    answer = Refund(
        refund_id="50",
        out_refund_no="R1",
        out_trade_no="T0001",
        status="ABNORMAL",
        success_time="not a time",
        amount=RefundAmount(total=100, refund=40),
    )
    report = report_from_v3(answer, mchid="1900000001")
    assert (report.mchid, report.status, report.refund, report.total) == (
        "1900000001",
        "ABNORMAL",
        40,
        100,
    )
    assert report.success_time is None  # unreadable: settling falls back to "now"
    with pytest.raises(TypeError):
        report_from_v3(answer)


@pytest.mark.parametrize(
    ("v2_status", "status"),
    [
        ("SUCCESS", "SUCCESS"),
        ("PROCESSING", "PROCESSING"),
        ("REFUNDCLOSE", "CLOSED"),
        ("CHANGE", "ABNORMAL"),
    ],
)
def test_v2_statuses_read_as_v3_ones(v2_status: str, status: str) -> None:
    result = V2RefundResult(
        appid="wx1",
        mch_id="1900000002",
        out_trade_no="T0001",
        transaction_id="4200",
        out_refund_no="R1",
        refund_id="5001",
        total_fee=9,
        refund_fee=3,
        settlement_refund_fee=None,
        refund_status=v2_status,
        success_time="2026-01-01 08:00:00" if v2_status == "SUCCESS" else None,
        refund_recv_accout=None,
        raw={},
    )
    report = report_from_v2(result)
    assert (report.mchid, report.status, report.refund, report.total) == (
        "1900000002",
        status,
        3,
        9,
    )
    if v2_status == "SUCCESS":
        assert report.success_time is not None
        assert report.success_time.astimezone(UTC).isoformat() == "2026-01-01T00:00:00+00:00"
    else:
        assert report.success_time is None


def test_undocumented_v2_statuses_and_missing_merchants_are_refused() -> None:
    item = RefundQueryItem(
        out_refund_no="R1",
        refund_id="5001",
        refund_fee=3,
        refund_status="LOST",
        refund_recv_accout=None,
        refund_success_time="yesterday",
    )
    with pytest.raises(MalformedInput):
        report_from_v2(item, mchid="1900000002")
    with pytest.raises(TypeError):
        report_from_v2(item)
    fine = RefundQueryItem(
        out_refund_no="R1",
        refund_id="5001",
        refund_fee=3,
        refund_status="SUCCESS",
        refund_recv_accout=None,
        refund_success_time="yesterday",
    )
    assert report_from_v2(fine, mchid="1900000002").success_time is None


def test_an_accepted_v2_refund_is_processing() -> None:
    reply = RefundResponse.from_fields(
        {
            "return_code": "SUCCESS",
            "result_code": "SUCCESS",
            "mch_id": "1900000002",
            "out_trade_no": "T0001",
            "out_refund_no": "R1",
            "refund_id": "5001",
            "refund_fee": "3",
            "total_fee": "9",
        }
    )
    report = report_from_v2_accepted(reply, mchid="ignored-when-the-reply-names-one")
    assert report == RefundReport(
        mchid="1900000002",
        out_refund_no="R1",
        status="PROCESSING",
        out_trade_no="T0001",
        refund_id="5001",
        refund=3,
        total=9,
    )
