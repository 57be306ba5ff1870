"""Which order a customer-service message is about: the page path of a mini program card, or
an order number inside a text.

A card the mini program sends with ``<button open-type="contact" send-message-path=…
show-message-card>`` arrives with its ``PagePath``; its query names the order::

    >>> refs = in_page_path("pages/pay/pay?order=ord_01KDVDNA000000000000000000")
    >>> refs.order_ids, refs.explicit
    (('ord_01KDVDNA000000000000000000',), True)

A text may carry paydesk's order id, its ``out_trade_no`` (``PD…``) or the merchant's own
order id. paydesk's numbers are unmistakable; the merchant's are only *candidates* (any word of
4–64 visible characters with a digit in it), so a chat message that merely looks like one is
not answered with "no such order"::

    >>> refs = in_text("请帮我付 PD01KDVDNA000000000000000000 和 A-1042 这两单")
    >>> refs.trade_numbers, refs.merchant_order_ids, refs.explicit
    (('PD01KDVDNA000000000000000000',), ('A-1042',), True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

__all__ = ["References", "in_page_path", "in_text"]

_ULID = r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"
_ORDER_ID = re.compile(rf"(?<![0-9A-Za-z_])ord_({_ULID})(?![0-9A-Za-z])")
_TRADE_NUMBER = re.compile(rf"(?<![0-9A-Za-z_])PD({_ULID})(-\d{{1,3}})?(?![0-9A-Za-z])", re.I)
# Merchant order ids are printable ASCII (routes/orders.py); in a text, surrounding
# punctuation is the sentence's, not the id's.
_WORD = re.compile(r"[\x21-\x7e]+")
_EDGE_PUNCTUATION = "\"'()[]{}<>,.;:!?`"
_MAX_CANDIDATES = 5
#: Query keys of a card's page path that name an order.
PATH_KEYS = ("order", "order_id", "out_trade_no", "merchant_order_id")


@dataclass(frozen=True)
class References:
    """Orders a message may be about, by kind; ``explicit`` when the user clearly named one."""

    order_ids: tuple[str, ...] = ()
    trade_numbers: tuple[str, ...] = ()
    merchant_order_ids: tuple[str, ...] = ()
    explicit: bool = False

    def __bool__(self) -> bool:
        return bool(self.order_ids or self.trade_numbers or self.merchant_order_ids)

    @property
    def shown(self) -> str:
        """The reference to quote back to the user (the first one found).

        >>> References(merchant_order_ids=("A-1",)).shown
        'A-1'
        """
        return next(iter(self.order_ids + self.trade_numbers + self.merchant_order_ids), "")


def _classify(value: str) -> tuple[str, str] | None:
    """``("order_id" | "trade_number", normalised)`` for paydesk's own numbers."""
    if (found := _ORDER_ID.fullmatch(value)) is not None:
        return "order_id", f"ord_{found.group(1).upper()}"
    if (found := _TRADE_NUMBER.fullmatch(value)) is not None:
        return "trade_number", f"PD{found.group(1).upper()}{found.group(2) or ''}"
    return None


def in_page_path(page_path: str | None) -> References:
    """The order named in a card's page path query (``order``, ``order_id``, ``out_trade_no``
    or ``merchant_order_id``).

    >>> in_page_path("pages/pay/pay?merchant_order_id=A-1042").merchant_order_ids
    ('A-1042',)
    >>> bool(in_page_path("pages/index/index"))
    False
    """
    _, _, query = (page_path or "").partition("?")
    order_ids: list[str] = []
    trade_numbers: list[str] = []
    merchant_ids: list[str] = []
    for key, value in parse_qsl(query, keep_blank_values=False):
        value = value.strip()
        if key not in PATH_KEYS or not 0 < len(value) <= 64:
            continue
        kind = None if key == "merchant_order_id" else _classify(value)
        if kind is None:
            merchant_ids.append(value)
        elif kind[0] == "order_id":
            order_ids.append(kind[1])
        else:
            trade_numbers.append(kind[1])
    # A card is the user pointing at an order: whatever it names is meant as one.
    explicit = bool(order_ids or trade_numbers or merchant_ids)
    return References(tuple(order_ids), tuple(trade_numbers), tuple(merchant_ids), explicit)


def in_text(content: str | None) -> References:
    """paydesk order ids and trade numbers in a text, and merchant order id candidates.

    >>> in_text("你好").explicit, bool(in_text("hello"))
    (False, False)
    >>> in_text("order 20240501-7, thanks").merchant_order_ids
    ('20240501-7',)
    """
    text = content or ""
    order_ids = [f"ord_{m.group(1).upper()}" for m in _ORDER_ID.finditer(text)]
    trade_numbers = [
        f"PD{m.group(1).upper()}{m.group(2) or ''}" for m in _TRADE_NUMBER.finditer(text)
    ]
    strong = {m.group(0) for m in (*_ORDER_ID.finditer(text), *_TRADE_NUMBER.finditer(text))}
    candidates: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).strip(_EDGE_PUNCTUATION)
        if word in strong or any(word in found or found in word for found in strong):
            continue
        if 4 <= len(word) <= 64 and any(ch.isdigit() for ch in word) and word not in candidates:
            candidates.append(word)
    return References(
        tuple(dict.fromkeys(order_ids)),
        tuple(dict.fromkeys(trade_numbers)),
        tuple(candidates[:_MAX_CANDIDATES]),
        explicit=bool(order_ids or trade_numbers),
    )
