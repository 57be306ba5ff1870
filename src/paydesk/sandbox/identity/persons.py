"""The people of the sandbox: one unionid each, and one openid per app.

WeChat gives a person a different openid in every app and one unionid across the apps bound to
the same open platform account (PROTOCOL.md §4.1). Real openids are 28 characters, start with
``o`` and share a short prefix per app; the sandbox's look the same::

    >>> import random
    >>> book = PersonBook(random.Random(7), ["wx5a0d5a0d00000001", "wx5a0d5a0d00000002"])
    >>> person = book.create()
    >>> len(person.unionid), person.unionid[0]
    (28, 'o')
    >>> a, b = person.openids.values()
    >>> a != b and len(a) == len(b) == 28
    True
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OPENID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
ID_LENGTH = 28
APP_PREFIX_LENGTH = 5
MAX_OPENID_LENGTH = 64


@dataclass(frozen=True)
class Person:
    """One WeChat user: ``unionid``, an openid per app, and what ``sns/userinfo`` shows.

    >>> p = Person("o" + "u" * 27, {"wxA": "o" + "a" * 27}, "沙箱用户 0001")
    >>> p.openid_for("wxA")[:3]
    'oaa'
    """

    unionid: str
    openids: Mapping[str, str]
    nickname: str

    def openid_for(self, appid: str) -> str:
        """This person's openid in ``appid`` (every sandbox app has one)."""
        return self.openids[appid]

    def view(self) -> dict[str, Any]:
        """The person as JSON for the control API."""
        return {"unionid": self.unionid, "openids": dict(self.openids), "nickname": self.nickname}


def app_prefix(appid: str) -> str:
    """The first characters every openid of ``appid`` shares, derived from the appid.

    >>> app_prefix("wx5a0d5a0d00000001") == app_prefix("wx5a0d5a0d00000001")
    True
    """
    digest = hashlib.sha256(appid.encode()).digest()
    return "o" + "".join(
        OPENID_ALPHABET[b % len(OPENID_ALPHABET)] for b in digest[:APP_PREFIX_LENGTH]
    )


def is_plausible_openid(value: str) -> bool:
    """A caller-chosen openid the sandbox accepts: 1–64 characters of WeChat's id alphabet.

    >>> is_plausible_openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), is_plausible_openid("a b")
    (True, False)
    """
    return 0 < len(value) <= MAX_OPENID_LENGTH and all(c in OPENID_ALPHABET for c in value)


class PersonBook:
    """Every person the sandbox knows, found by unionid or by (appid, openid)."""

    def __init__(self, rng: random.Random, appids: Iterable[str]) -> None:
        self._rng = rng
        self._appids = tuple(appids)
        self._by_unionid: dict[str, Person] = {}
        self._by_openid: dict[tuple[str, str], Person] = {}
        self._by_any_openid: dict[str, Person] = {}

    def reset(self) -> None:
        """Forget everyone."""
        self._by_unionid.clear()
        self._by_openid.clear()
        self._by_any_openid.clear()

    def __len__(self) -> int:
        return len(self._by_unionid)

    def all(self) -> list[Person]:
        """Everyone, in order of creation."""
        return list(self._by_unionid.values())

    def create(self, *, appid: str | None = None, openid: str | None = None) -> Person:
        """A new person; with ``appid`` and ``openid``, that is their openid in that app."""
        openids = {app: self._new_id(app_prefix(app)) for app in self._appids}
        if appid is not None and openid is not None:
            openids[appid] = openid
        person = Person(
            unionid=self._new_id("o"),
            openids=openids,
            nickname=f"沙箱用户 {self._rng.randrange(10000):04d}",
        )
        self._by_unionid[person.unionid] = person
        for app, value in openids.items():
            self._by_openid[(app, value)] = person
            self._by_any_openid.setdefault(value, person)
        return person

    def person(self, unionid: str) -> Person:
        """The person with this unionid, who must exist (codes and tokens are reset with
        persons, so a unionid they hold always resolves)."""
        return self._by_unionid[unionid]

    def by_unionid(self, unionid: str) -> Person | None:
        """The person with this unionid, if any."""
        return self._by_unionid.get(unionid)

    def by_openid(self, appid: str, openid: str) -> Person | None:
        """The person with this openid in ``appid``, if any."""
        return self._by_openid.get((appid, openid))

    def find_openid(self, openid: str) -> Person | None:
        """The person with this openid in any app (the first one, should a caller-chosen openid
        repeat another app's)."""
        return self._by_any_openid.get(openid)

    def get_or_create(self, appid: str, openid: str | None) -> Person:
        """The person behind ``openid`` in ``appid``; a new person when unknown or ``None``."""
        if openid is None:
            return self.create()
        return self.by_openid(appid, openid) or self.create(appid=appid, openid=openid)

    def _new_id(self, prefix: str) -> str:
        # 22+ random characters of a 64-letter alphabet: a collision is not worth a check.
        tail = (self._rng.choice(OPENID_ALPHABET) for _ in range(ID_LENGTH - len(prefix)))
        return prefix + "".join(tail)
