"""Parsing WeChat's trade bill: the golden files, yuan to fen exactly, and every way a file can
be wrong — refused, never half-read."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from paydesk.domain.errors import UpstreamFailed
from paydesk.domain.reconcile import parse_trade_bill, yuan_to_fen
from paydesk.sandbox.pay.bills import trade_bill

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "trade_bills.json").read_text("utf-8")
)["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_golden_bills(vector: dict[str, Any]) -> None:
    bill = parse_trade_bill(vector["bill"].encode("utf-8"))
    expect = vector["expect"]
    payments = [
        {
            "out_trade_no": p.out_trade_no,
            "transaction_id": p.transaction_id,
            "total": p.total,
            "settled": p.settled,
            "fee": p.fee,
            "time": p.time.isoformat(),
        }
        for p in bill.payments
    ]
    refunds = [
        {
            "out_refund_no": r.out_refund_no,
            "out_trade_no": r.out_trade_no,
            "refund_id": r.refund_id,
            "refund": r.refund,
            "refund_status": r.refund_status,
        }
        for r in bill.refunds
    ]
    assert payments == expect["payments"]
    assert refunds == expect["refunds"]
    summary = bill.summary
    assert {
        "count": summary.count,
        "settled_total": summary.settled_total,
        "refund_total": summary.refund_total,
    } == expect["summary"]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0.00", 0),
        ("0.01", 1),
        ("1.1", 110),  # one decimal
        ("12", 1200),  # none
        ("21474836.47", 2147483647),  # WeChat's largest amount, exactly
        ("-0.60", -60),  # a fee given back
        (" 3.50 ", 350),
    ],
)
def test_yuan_becomes_fen_exactly(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["", "1.234", "1,00", "¥1.00", "1e3", "0x10", "--1", "1."])
def test_anything_else_is_not_an_amount(text: str) -> None:
    with pytest.raises(UpstreamFailed, match="not an amount in yuan"):
        yuan_to_fen(text)


def _golden() -> str:
    text: str = VECTORS[0]["bill"]
    return text


def test_a_byte_order_mark_and_bare_newlines_are_fine() -> None:
    bill = parse_trade_bill(("\ufeff" + _golden().replace("\r\n", "\n")).encode("utf-8"))
    assert len(bill.rows) == 3


def test_columns_are_found_by_name_in_any_order_and_new_ones_ignored() -> None:
    lines = [line.split(",") for line in _golden().strip().split("\r\n")]
    head, rows, tail = lines[0], lines[1:-2], lines[-2:]
    order = list(reversed(range(len(head))))
    shuffled = [[line[i] for i in order] + ["新列"] for line in [head, *rows]]
    text = "\r\n".join(",".join(line) for line in shuffled + tail)
    assert parse_trade_bill(text.encode("utf-8")) == parse_trade_bill(_golden().encode("utf-8"))


def _broken(change: str) -> bytes:
    lines = _golden().strip().split("\r\n")
    if change == "cut short":
        lines = lines[:2] + lines[-2:]
    elif change == "no summary":
        lines = lines[:-2]
    elif change == "summary line missing":
        lines = lines[:-1]
    elif change == "missing column":
        lines[0] = lines[0].replace("商户订单号", "订单号")
    elif change == "short line":
        lines[1] = ",".join(lines[1].split(",")[:5])
    elif change == "bad time":
        lines[1] = lines[1].replace("`2026-03-01 09:15:02", "`yesterday", 1)
    elif change == "bad amount":
        lines[1] = lines[1].replace("`1.00", "`one", 1)
    elif change == "wrong total":
        lines[-1] = lines[-1].replace("`1235.56", "`1235.57", 1)
    elif change == "wrong refund total":
        lines[-1] = lines[-1].replace("`0.30", "`0.31", 1)
    elif change == "empty":
        lines = []
    return "\r\n".join(lines).encode("utf-8")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("cut short", "counts 3 lines, the file has 1"),
        ("no summary", "no summary section"),
        ("summary line missing", "summary line is incomplete"),
        ("missing column", "columns 商户订单号 are missing"),
        ("short line", "a line has 5 of 27 columns"),
        ("bad time", "bad 交易时间"),
        ("bad amount", "not an amount"),
        ("wrong total", "应结订单总金额 is not the sum"),
        ("wrong refund total", "退款总金额 is not the sum"),
        ("empty", "no header, data and summary"),
    ],
)
def test_a_malformed_bill_is_refused_with_the_reason(change: str, reason: str) -> None:
    with pytest.raises(UpstreamFailed) as caught:
        parse_trade_bill(_broken(change))
    assert caught.value.code == "wechat_bill_malformed"
    assert reason in caught.value.message
    assert caught.value.retryable is False


def test_a_bill_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(UpstreamFailed, match="not UTF-8"):
        parse_trade_bill(_golden().encode("gb18030"))


def test_the_sandbox_bill_of_a_day_without_trades_parses() -> None:
    text = trade_bill([], [], mchid="1900000001", day=date(2026, 3, 1), bill_type="ALL")
    bill = parse_trade_bill(text.encode("utf-8"))
    assert (bill.rows, bill.summary.count) == ((), 0)


def test_times_are_beijing_time() -> None:
    (first, *_) = parse_trade_bill(_golden().encode("utf-8")).rows
    assert first.time.isoformat() == "2026-03-01T09:15:02+08:00"
    assert first.time == datetime(2026, 3, 1, 1, 15, 2, tzinfo=UTC)
