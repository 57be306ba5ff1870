"""The bill against the ledger, as a table: every kind of difference, and the agreements that
must not be reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from paydesk.domain.reconcile import (
    BillRow,
    BillSummary,
    Difference,
    Ledger,
    LedgerPayment,
    LedgerRefund,
    TradeBill,
    diff_bill,
)

AT = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
TX = "4200000000202603011234567890"
PAYMENT = BillRow(
    kind="payment",
    time=AT,
    mchid="1900000001",
    appid="wx5a0d5a0d00000001",
    out_trade_no="PD1",
    transaction_id=TX,
    trade_state="SUCCESS",
    total=100,
    settled=100,
    fee=1,
)
REFUND = replace(
    PAYMENT,
    kind="refund",
    trade_state="REFUND",
    total=0,
    settled=0,
    fee=0,
    out_refund_no="R1",
    refund_id="5001",
    refund=30,
    refund_status="SUCCESS",
)
OURS = LedgerPayment("PD1", "ord_1", "PARTIALLY_REFUNDED", 100, TX, AT)
OUR_REFUND = LedgerRefund("R1", "ord_1", "SUCCESS", 30, AT, AT)


def bill(*rows: BillRow) -> TradeBill:
    return TradeBill(rows, BillSummary(len(rows), 0, 0))


def ledger(
    payments: tuple[LedgerPayment, ...] = (),
    refunds: tuple[LedgerRefund, ...] = (),
    expected: tuple[str, ...] = (),
) -> Ledger:
    return Ledger(
        payments={p.out_trade_no: p for p in payments},
        refunds={r.out_refund_no: r for r in refunds},
        expected_payments=frozenset(n for n in expected if n.startswith("PD")),
        expected_refunds=frozenset(n for n in expected if not n.startswith("PD")),
    )


AGREE = ledger((OURS,), (OUR_REFUND,), ("PD1", "R1"))


@pytest.mark.parametrize(
    ("rows", "ours", "found"),
    [
        # Everything matches: nothing to say.
        ((PAYMENT, REFUND), AGREE, []),
        # A payment paydesk never heard of.
        (
            (PAYMENT,),
            ledger(),
            [
                Difference(
                    "missing_here", "payment", "PD1", theirs_amount=100, theirs_state="SUCCESS"
                )
            ],
        ),
        # Paid here (that day), absent from the bill.
        (
            (),
            ledger((OURS,), expected=("PD1",)),
            [
                Difference(
                    "missing_there",
                    "payment",
                    "PD1",
                    "ord_1",
                    ours_amount=100,
                    ours_state="SUCCESS",
                )
            ],
        ),
        # Known but never paid here: the notification and the sweeps both missed it.
        (
            (PAYMENT,),
            ledger((replace(OURS, order_state="PAYING", transaction_id=None, paid_at=None),)),
            [Difference("state_differs", "payment", "PD1", "ord_1", 100, 100, "PAYING", "SUCCESS")],
        ),
        # Paid here under another transaction.
        (
            (PAYMENT,),
            ledger((replace(OURS, transaction_id="42X"),)),
            [
                Difference(
                    "state_differs",
                    "payment",
                    "PD1",
                    "ord_1",
                    100,
                    100,
                    "SUCCESS 42X",
                    f"SUCCESS {TX}",
                )
            ],
        ),
        # Same trade, another amount.
        (
            (replace(PAYMENT, total=90),),
            AGREE,
            [
                Difference(
                    "amount_differs", "payment", "PD1", "ord_1", 100, 90, "SUCCESS", "SUCCESS"
                ),
                Difference("missing_there", "refund", "R1", "ord_1", 30, None, "SUCCESS"),
            ],
        ),
        # A refund paydesk does not know.
        (
            (REFUND,),
            ledger(),
            [Difference("missing_here", "refund", "R1", theirs_amount=30, theirs_state="SUCCESS")],
        ),
        # A refund WeChat says succeeded, still PROCESSING here (its notification lost).
        (
            (REFUND,),
            ledger(refunds=(replace(OUR_REFUND, state="PROCESSING", succeeded_at=None),)),
            [Difference("state_differs", "refund", "R1", "ord_1", 30, 30, "PROCESSING", "SUCCESS")],
        ),
        # A refund for another amount.
        (
            (replace(REFUND, refund=31),),
            ledger(refunds=(OUR_REFUND,)),
            [Difference("amount_differs", "refund", "R1", "ord_1", 30, 31, "SUCCESS", "SUCCESS")],
        ),
        # The bill's refund is still processing and ours succeeded: no difference.
        ((replace(REFUND, refund_status="PROCESSING"),), ledger(refunds=(OUR_REFUND,)), []),
        # A refund paydesk counts that day, absent from the bill.
        (
            (),
            ledger(refunds=(OUR_REFUND,), expected=("R1",)),
            [Difference("missing_there", "refund", "R1", "ord_1", 30, None, "SUCCESS")],
        ),
        # Known records the day does not expect are not "missing there".
        ((), ledger((OURS,), (OUR_REFUND,)), []),
    ],
)
def test_the_differences(rows: tuple[BillRow, ...], ours: Ledger, found: list[Difference]) -> None:
    assert diff_bill(bill(*rows), ours) == found


def test_each_difference_says_how_many_fen_apart() -> None:
    differences = diff_bill(bill(replace(PAYMENT, total=90), REFUND), ledger(expected=()))
    assert [d.fen for d in differences] == [90, 30]
