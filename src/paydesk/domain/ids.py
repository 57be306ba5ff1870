"""Identifiers: time-ordered, prefixed, from an injectable source of randomness.

Ids are ULID-like: 48 bits of milliseconds then 80 random bits, in Crockford base32 (26
characters), so they sort by creation time. ``out_trade_no`` is ``PD`` + that body (28
characters; WeChat allows 6–32 of ``[0-9A-Za-z_-|*]``)::

    >>> from paydesk.domain.clock import FixedClock
    >>> from datetime import datetime, timezone
    >>> ids = IdSource(FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), lambda n: bytes(n))
    >>> ids.new("ord")
    'ord_01KDVDNA000000000000000000'
    >>> len(ids.out_trade_no())
    28
"""

from __future__ import annotations

import os
from collections.abc import Callable

from paydesk.domain.clock import Clock

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


#: Every pair of digits, by the 10 bits they stand for: half the steps of one digit at a time.
_PAIRS = [high + low for high in _CROCKFORD for low in _CROCKFORD]


def _base32(value: int, length: int) -> str:
    """The last ``length`` Crockford base32 digits of ``value``, most significant first.

    >>> _base32(32 * 32 + 33, 5)
    '00111'
    """
    pairs = [_PAIRS[(value >> shift) & 0x3FF] for shift in range(10 * (length // 2) - 10, -1, -10)]
    if length % 2:
        return _CROCKFORD[(value >> (length - 1) * 5) & 31] + "".join(pairs)
    return "".join(pairs)


class IdSource:
    """Makes every id, token and nonce paydesk hands out."""

    def __init__(self, clock: Clock, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._clock = clock
        self._random = random_bytes

    def _ulid(self) -> str:
        millis = int(self._clock.now().timestamp() * 1000)
        entropy = int.from_bytes(self._random(10), "big")
        return _base32(millis, 10) + _base32(entropy, 16)

    def new(self, prefix: str) -> str:
        """A new id such as ``ord_01KDWYZ3…``."""
        return f"{prefix}_{self._ulid()}"

    def out_trade_no(self) -> str:
        """A new trade number for WeChat: ``PD`` + 26 time-ordered characters."""
        return "PD" + self._ulid()

    def token(self, nbytes: int = 32) -> str:
        """An unguessable URL-safe token (session tokens, API keys)."""
        return _base32(int.from_bytes(self._random(nbytes), "big"), (nbytes * 8 + 4) // 5)

    def nonce(self) -> str:
        """A 32-character nonce for WeChat signatures."""
        return self._random(16).hex().upper()
