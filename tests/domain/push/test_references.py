"""paydesk.domain.push.references: which order a card or a text names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.domain.push.references import References, in_page_path, in_text

ORDER_ID = "ord_01KDVDNA00000000000000000Z"
TRADE_NO = "PD01KDVDNA00000000000000000Z"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"pages/pay/pay?order={ORDER_ID}", References(order_ids=(ORDER_ID,), explicit=True)),
        (f"pages/pay/pay?order_id={ORDER_ID.lower()}", References((ORDER_ID,), explicit=True)),
        (f"pages/pay/pay?from=card&order={TRADE_NO}", References((), (TRADE_NO,), (), True)),
        (f"pages/pay/pay?out_trade_no={TRADE_NO}-2", References((), (f"{TRADE_NO}-2",), (), True)),
        ("pages/pay/pay?order=A-1042", References((), (), ("A-1042",), True)),
        (
            f"pages/pay/pay?merchant_order_id={ORDER_ID}",  # the key says whose number it is
            References((), (), (ORDER_ID,), True),
        ),
        ("pages/pay/pay?order=A%201042", References((), (), ("A 1042",), True)),
        ("pages/pay/pay?id=A-1042&foo=bar", References()),
        ("pages/pay/pay?order=", References()),
        ("pages/pay/pay?order=" + "x" * 65, References()),
        ("pages/index/index", References()),
        (None, References()),
    ],
)
def test_a_card_names_its_order_in_the_page_path_query(
    path: str | None, expected: References
) -> None:
    assert in_page_path(path) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"我要付 {ORDER_ID}", References((ORDER_ID,), (), (), True)),
        (f"订单号：{TRADE_NO}，谢谢", References((), (TRADE_NO,), (), True)),
        (f"({TRADE_NO}-3)", References((), (f"{TRADE_NO}-3",), (), True)),
        (f"{ORDER_ID.lower()} again {ORDER_ID}", References((ORDER_ID,), (), (), True)),
        ("订单 A-1042 还没付", References((), (), ("A-1042",), False)),
        ('"20240501-7", please.', References((), (), ("20240501-7",), False)),
        ("hello there, thanks!", References()),
        ("你好", References()),
        ("abc 12", References()),  # too short to be an order id
        (f"x{ORDER_ID}", References((), (), (f"x{ORDER_ID}",), False)),  # not a paydesk id
        (
            "a1b2 c3d4 e5f6 g7h8 i9j0 k1l2 m3n4",
            References((), (), ("a1b2", "c3d4", "e5f6", "g7h8", "i9j0"), False),
        ),
        (None, References()),
    ],
)
def test_a_text_carries_paydesk_numbers_and_merchant_id_candidates(
    content: str | None, expected: References
) -> None:
    assert in_text(content) == expected


def test_the_reference_quoted_back_is_the_first_one_found() -> None:
    assert in_text(f"{TRADE_NO} or {ORDER_ID}").shown == ORDER_ID
    assert References().shown == ""


@given(st.text(max_size=300))
def test_any_text_is_read_without_error_and_within_bounds(content: str) -> None:
    refs = in_text(content)
    assert len(refs.merchant_order_ids) <= 5
    assert all(4 <= len(word) <= 64 for word in refs.merchant_order_ids)
    assert refs.explicit == bool(refs.order_ids or refs.trade_numbers)
