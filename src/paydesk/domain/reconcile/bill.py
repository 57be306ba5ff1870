"""WeChat's daily trade bill (交易账单) parsed into rows: pure, no I/O.

The file (``GET /v3/bill/tradebill`` → ``download_url``; doc:
https://pay.weixin.qq.com/docs/merchant/apis/jsapi-payment/get-trade-bill.html and the download
page https://pay.weixin.qq.com/docs/partner/apis/partner-h5-payment/download-bill.html) is CSV
in two parts, each a header line and its data lines::

    交易时间,公众账号ID,商户号,…,商户订单号,…,交易状态,…,应结订单金额,…,商户退款单号,退款金额,…
    `2026-03-01 12:00:00,`wx5a0d5a0d00000001,`1900000001,…,`PD01…,…,`SUCCESS,…,`1.00,…
    总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
    `1,`1.00,`0.00,`0.00,`0.01,`1.00,`0.00

Every value carries a leading backtick (so spreadsheets keep long numbers as text); amounts are
yuan with two decimals — turned into integer fen here, by string arithmetic, never a float. A
payment row says ``SUCCESS`` in 交易状态, a refund row ``REFUND`` (with 商户退款单号 and
退款状态). Columns are found by their header names, so a column WeChat adds is ignored. The
summary is checked against the rows: a file cut short is refused, not half-reconciled.

>>> yuan_to_fen("12.34"), yuan_to_fen("-0.01"), yuan_to_fen("5")
(1234, -1, 500)
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from paydesk.domain.errors import UpstreamFailed
from paydesk.protocol.times import BEIJING

__all__ = ["BillRow", "BillSummary", "TradeBill", "parse_trade_bill", "yuan_to_fen"]

_YUAN = re.compile(r"(-?)(\d+)(?:\.(\d{1,2}))?")
#: The columns read, by their header names (the rest are kept out of the way).
_COLUMNS = {
    "交易时间": "time",
    "公众账号ID": "appid",
    "商户号": "mchid",
    "微信订单号": "transaction_id",
    "商户订单号": "out_trade_no",
    "交易状态": "trade_state",
    "应结订单金额": "settled",
    "微信退款单号": "refund_id",
    "商户退款单号": "out_refund_no",
    "退款金额": "refund",
    "退款状态": "refund_status",
    "手续费": "fee",
    "订单金额": "total",
}
_SUMMARY_COUNT = "总交易单数"
_SUMMARY_SETTLED = "应结订单总金额"
_SUMMARY_REFUNDS = "退款总金额"


def _malformed(reason: str) -> UpstreamFailed:
    return UpstreamFailed(
        "wechat_bill_malformed", f"the trade bill is malformed: {reason}", retryable=False
    )


def yuan_to_fen(text: str) -> int:
    """``"12.34"`` yuan → ``1234`` fen, exactly; anything else is a malformed bill."""
    found = _YUAN.fullmatch(text.strip())
    if found is None:
        raise _malformed(f"{text[:20]!r} is not an amount in yuan")
    sign, whole, cents = found.groups()
    fen = int(whole) * 100 + int((cents or "0").ljust(2, "0"))
    return -fen if sign else fen


@dataclass(frozen=True)
class BillRow:
    """One line of the bill: a payment (``kind="payment"``) or a refund. Amounts in fen."""

    kind: Literal["payment", "refund"]
    time: datetime  #: 交易时间, Beijing time
    mchid: str
    appid: str
    out_trade_no: str
    transaction_id: str
    trade_state: str  #: ``SUCCESS`` for a payment, ``REFUND`` for a refund
    total: int  #: 订单金额: the order's amount (0 on a refund row)
    settled: int  #: 应结订单金额: what the merchant is owed (less coupons)
    fee: int  #: 手续费 (negative on a refund row: the fee given back)
    out_refund_no: str | None = None
    refund_id: str | None = None
    refund: int = 0  #: 退款金额
    refund_status: str | None = None

    @property
    def reference(self) -> str:
        """The merchant's number for the line: ``out_refund_no`` or ``out_trade_no``."""
        return self.out_refund_no or self.out_trade_no


@dataclass(frozen=True)
class BillSummary:
    """The summary section: line count and totals, in fen."""

    count: int
    settled_total: int
    refund_total: int


@dataclass(frozen=True)
class TradeBill:
    """A parsed bill: its rows, in file order, and its summary."""

    rows: tuple[BillRow, ...]
    summary: BillSummary

    @property
    def payments(self) -> tuple[BillRow, ...]:
        """The payment rows."""
        return tuple(row for row in self.rows if row.kind == "payment")

    @property
    def refunds(self) -> tuple[BillRow, ...]:
        """The refund rows."""
        return tuple(row for row in self.rows if row.kind == "refund")


def _unquote(value: str) -> str:
    return value[1:] if value.startswith("`") else value


def _row(fields: dict[str, str]) -> BillRow:
    try:
        when = datetime.strptime(fields["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        raise _malformed(f"bad 交易时间 {fields['time'][:25]!r}") from None
    refund_no = fields.get("out_refund_no", "")
    is_refund = fields["trade_state"] == "REFUND" or refund_no not in ("", "0")
    return BillRow(
        kind="refund" if is_refund else "payment",
        time=when,
        mchid=fields["mchid"],
        appid=fields["appid"],
        out_trade_no=fields["out_trade_no"],
        transaction_id=fields["transaction_id"],
        trade_state=fields["trade_state"],
        total=yuan_to_fen(fields["total"]),
        settled=yuan_to_fen(fields["settled"]),
        fee=yuan_to_fen(fields["fee"]),
        out_refund_no=refund_no if is_refund else None,
        refund_id=fields.get("refund_id") if is_refund else None,
        refund=yuan_to_fen(fields["refund"]) if is_refund else 0,
        refund_status=(fields.get("refund_status") or None) if is_refund else None,
    )


def parse_trade_bill(data: bytes) -> TradeBill:
    """Parse a trade bill file (UTF-8, optionally with a BOM); malformed → UpstreamFailed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _malformed("not UTF-8 text") from None
    lines = [line for line in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in line)]
    if len(lines) < 3:
        raise _malformed("no header, data and summary sections")
    header = [cell.strip() for cell in lines[0]]
    missing = sorted(set(_COLUMNS) - set(header))
    if missing:
        raise _malformed(f"columns {', '.join(missing)} are missing")
    at = {name: header.index(name) for name in _COLUMNS}
    try:
        end = next(i for i, line in enumerate(lines) if line and line[0].strip() == _SUMMARY_COUNT)
    except StopIteration:
        raise _malformed(f"no summary section ({_SUMMARY_COUNT})") from None
    rows: list[BillRow] = []
    for line in lines[1:end]:
        if len(line) < len(header):
            raise _malformed(f"a line has {len(line)} of {len(header)} columns")
        rows.append(_row({_COLUMNS[name]: _unquote(line[i]).strip() for name, i in at.items()}))
    summary = _summary(lines[end], lines[end + 1] if end + 1 < len(lines) else [])
    if summary.count != len(rows):
        raise _malformed(f"the summary counts {summary.count} lines, the file has {len(rows)}")
    if summary.settled_total != sum(r.settled for r in rows if r.kind == "payment"):
        raise _malformed("the summary's 应结订单总金额 is not the sum of the payments")
    if summary.refund_total != sum(r.refund for r in rows if r.kind == "refund"):
        raise _malformed("the summary's 退款总金额 is not the sum of the refunds")
    return TradeBill(tuple(rows), summary)


def _summary(names: list[str], values: list[str]) -> BillSummary:
    cells = [_unquote(value).strip() for value in values]
    fields = dict(zip([name.strip() for name in names], cells, strict=False))
    try:
        count = int(fields[_SUMMARY_COUNT])
        settled = yuan_to_fen(fields[_SUMMARY_SETTLED])
        refunded = yuan_to_fen(fields[_SUMMARY_REFUNDS])
    except (KeyError, ValueError):
        raise _malformed("the summary line is incomplete") from None
    return BillSummary(count, settled, refunded)
