"""Identifiers shaped like WeChat's, drawn from the sandbox's seeded generator.

Every id comes from one ``random_string`` source (``Sandbox.random_string``), so a sandbox
built with the same seed and driven the same way hands out the same ids::

    >>> import random
    >>> rng = random.Random(1)
    >>> ids = Ids(lambda n, alphabet: "".join(rng.choice(alphabet) for _ in range(n)))
    >>> len(ids.transaction_id(datetime(2026, 1, 1, tzinfo=BEIJING)))
    28
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from paydesk.protocol.times import BEIJING

__all__ = ["DIGITS", "HEX", "Ids", "RandomString"]

DIGITS = "0123456789"
HEX = "0123456789abcdef"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_UPPER_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: ``random_string(length, alphabet)``.
RandomString = Callable[[int, str], str]


class Ids:
    """Makers of prepay ids, transaction ids, refund ids, event ids, nonces and request ids."""

    def __init__(self, random_string: RandomString) -> None:
        self._random = random_string

    def prepay_id(self, now: datetime) -> str:
        """``wx`` + Beijing ``yyyyMMddHHmmss`` + 20 characters (36 in all, like WeChat's)."""
        return "wx" + now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + self._random(20, HEX)

    def transaction_id(self, now: datetime) -> str:
        """28 digits: ``4200`` + Beijing ``yyyyMMdd`` + 16 digits."""
        return "4200" + now.astimezone(BEIJING).strftime("%Y%m%d") + self._random(16, DIGITS)

    def refund_id(self, now: datetime) -> str:
        """29 digits: ``50`` + Beijing ``yyyyMMdd`` + 19 digits."""
        return "50" + now.astimezone(BEIJING).strftime("%Y%m%d") + self._random(19, DIGITS)

    def event_id(self) -> str:
        """A UUID-shaped notification id (version nibble 4), reused by every retry."""
        raw = self._random(32, HEX)
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{raw[16:20]}-{raw[20:]}"

    def code(self) -> str:
        """The ``pr`` code of a Native ``code_url``."""
        return self._random(7, _ALNUM)

    def h5_package(self) -> str:
        """The ``package`` number of an ``h5_url``."""
        return self._random(10, DIGITS)

    def nonce(self, length: int = 32) -> str:
        """A signature nonce (upper-case letters and digits)."""
        return self._random(length, _UPPER_ALNUM)

    def resource_nonce(self) -> str:
        """The 12-character AES-GCM nonce of an encrypted resource."""
        return self._random(12, _ALNUM)

    def request_id(self, platform_error: int | None = None) -> str:
        """A ``Request-ID``; failures end in ``-<platform error number>`` when one is known."""
        base = self._random(32, HEX).upper()
        return f"{base}-{platform_error}" if platform_error is not None else base

    def openid(self) -> str:
        """An openid for a payer nobody named (28 characters, starting with ``o``)."""
        return "o" + self._random(27, _ALNUM)

    def token(self) -> str:
        """An opaque download token."""
        return self._random(40, _ALNUM)
