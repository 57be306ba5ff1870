"""Single-use codes with a lifetime: what ``wx.login`` and OAuth's redirect hand out.

A code is valid for one redemption within five minutes of virtual time (PROTOCOL.md §4.1,
§4.5). Redeeming looks the code up and marks it used in one step with no ``await`` between, so
two concurrent redemptions of one code can never both succeed::

    >>> from datetime import datetime, timedelta, timezone
    >>> import random
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> codes = OneTimeCodes(random.Random(3))
    >>> code = codes.issue("wxA", "oUNION", t0).code
    >>> codes.redeem(code, "wxA", t0).outcome, codes.redeem(code, "wxA", t0).outcome
    ('ok', 'used')
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, TypeVar

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 32
CODE_LIFETIME = timedelta(minutes=5)
#: Used and expired codes are remembered this long (for 40163), then forgotten (40029).
KEEP_SPENT = timedelta(hours=1)

Outcome = Literal["ok", "invalid", "used", "expired"]
Entry = TypeVar("Entry")


def forget_expired(
    entries: dict[str, Entry], horizon: datetime, expiry: Callable[[Entry], datetime]
) -> None:
    """Drop the entries that expired before ``horizon`` from an issue-ordered dict.

    Entries are added in issue order with a fixed lifetime and virtual time never goes back, so
    the expired ones are at the front: stop at the first live one.

    >>> from datetime import datetime
    >>> d = {"a": datetime(2026, 1, 1), "b": datetime(2026, 1, 3)}
    >>> forget_expired(d, datetime(2026, 1, 2), lambda when: when)
    >>> list(d)
    ['b']
    """
    while entries:
        key, oldest = next(iter(entries.items()))
        if expiry(oldest) >= horizon:
            return
        del entries[key]


@dataclass(frozen=True)
class IssuedCode:
    """One code: who it is for, in which app, until when; ``scope`` for OAuth codes."""

    code: str
    appid: str
    unionid: str
    expires_at: datetime
    scope: str = ""
    used: bool = False


@dataclass(frozen=True)
class Redemption:
    """The result of redeeming a code: ``outcome`` and, when ``ok``, the code itself."""

    outcome: Outcome
    issued: IssuedCode | None = None


@dataclass
class OneTimeCodes:
    """The codes of one kind (login or OAuth), keyed by their text."""

    rng: random.Random
    _codes: dict[str, IssuedCode] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget every code."""
        self._codes.clear()

    def issue(self, appid: str, unionid: str, now: datetime, *, scope: str = "") -> IssuedCode:
        """A fresh code for ``unionid`` in ``appid``, valid for five minutes from ``now``."""
        forget_expired(self._codes, now - KEEP_SPENT, lambda c: c.expires_at)
        text = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        issued = IssuedCode(text, appid, unionid, now + CODE_LIFETIME, scope)
        self._codes[text] = issued
        return issued

    def redeem(self, code: str, appid: str, now: datetime) -> Redemption:
        """Use ``code`` for ``appid``: ``ok`` once, then ``used``; ``expired`` after five
        minutes; ``invalid`` when unknown or issued for another app."""
        issued = self._codes.get(code)
        if issued is None or issued.appid != appid:
            return Redemption("invalid")
        if issued.used:
            return Redemption("used")
        if now >= issued.expires_at:
            return Redemption("expired")
        self._codes[code] = replace(issued, used=True)
        return Redemption("ok", issued)
