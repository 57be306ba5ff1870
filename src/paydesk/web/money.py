"""Amounts as a shopper reads them: integer fen to a yuan string, by integer arithmetic only.

>>> yuan(1999), yuan(5), yuan(123456789)
('19.99', '0.05', '1,234,567.89')
"""

from __future__ import annotations

__all__ = ["yuan"]


def yuan(fen: int) -> str:
    """``fen`` as yuan with two decimals and thousands separators (never through a float).

    >>> yuan(100)
    '1.00'
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"an amount is an integer number of fen, not {fen!r}")
    if fen < 0:
        raise ValueError(f"a price is never negative: {fen}")
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}"
