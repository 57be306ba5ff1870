"""Faults on purpose: lost, doubled, late or shuffled notifications, and sick API answers.

A :class:`FaultPlan` is a list of :class:`FaultRule` values. Each rule has a ``kind``, a
``probability`` and a ``seed`` (its own seeded :class:`random.Random`, so a run is
reproducible), an optional path filter and, for some kinds, ``seconds``. Kinds:

==========  ===============================================================================
drop        a notification attempt is lost on the way (recorded; retried on the schedule)
duplicate   an attempt is followed by a second, identical one (kind ``duplicate``)
delay       a new notification is held back ``seconds`` of virtual time (default 60)
reorder     a new notification waits until the next one overtook it (at most ``seconds``)
signtest    a ``WECHATPAY/SIGNTEST/`` probe is sent before the first real attempt (v3)
5xx         the API answers ``status`` (500) SYSTEM_ERROR / SYSTEMERROR *without* acting
timeout     the API acts, then holds its answer ``seconds`` (default 30) of wall time
slow        the API waits ``seconds`` (default 3) of wall time, then acts and answers
==========  ===============================================================================

For notification kinds the path filter matches the notify URL's path; for API kinds the
request path (without the mount prefix). ``/_sandbox/`` control paths are never faulted.

>>> plan = FaultPlan()
>>> rule = plan.add({"kind": "5xx", "path": "/v3/pay/", "times": 1})
>>> plan.http_fault("/v3/pay/transactions/native").kind, plan.http_fault("/v3/pay/x")
('5xx', None)
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paydesk.protocol.xmlcodec import to_xml

__all__ = [
    "HTTP_KINDS",
    "NOTIFY_KINDS",
    "FaultKind",
    "FaultMiddleware",
    "FaultPlan",
    "FaultRule",
]

FaultKind = Literal["drop", "duplicate", "delay", "reorder", "signtest", "5xx", "timeout", "slow"]
#: Kinds that act on outgoing notifications.
NOTIFY_KINDS = frozenset({"drop", "duplicate", "delay", "reorder", "signtest"})
#: Kinds that act on incoming API requests (in :class:`FaultMiddleware`).
HTTP_KINDS = frozenset({"5xx", "timeout", "slow"})
_DEFAULT_SECONDS = {"delay": 60.0, "reorder": 10.0, "timeout": 30.0, "slow": 3.0}
_FIELDS = {"kind", "probability", "seed", "path", "path_regex", "seconds", "status", "times"}
_CONTROL_PREFIX = "/_sandbox/"


@dataclass
class FaultRule:
    """One fault: what, how likely, where, and how many times at most."""

    id: int
    kind: FaultKind
    probability: float = 1.0
    seed: int = 0
    path: str | None = None  #: a path prefix; ``None`` with no regex matches every path
    path_regex: str | None = None  #: a regular expression searched in the path
    seconds: float | None = None
    status: int = 500  #: the status of a ``5xx`` answer
    times: int | None = None  #: fire at most this often (``None``: no limit)
    seen: int = 0  #: how often the rule was consulted on a matching path
    fired: int = 0  #: how often it took effect
    _rng: random.Random = field(init=False, repr=False)
    _pattern: re.Pattern[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - reproducible faults, not secrets
        self._pattern = re.compile(self.path_regex) if self.path_regex is not None else None

    @property
    def wait_seconds(self) -> float:
        """``seconds``, or the kind's default."""
        return self.seconds if self.seconds is not None else _DEFAULT_SECONDS.get(self.kind, 0.0)

    def matches(self, path: str) -> bool:
        """Whether ``path`` is one this rule applies to."""
        if self.path is not None and not path.startswith(self.path):
            return False
        return self._pattern is None or self._pattern.search(path) is not None

    def roll(self) -> bool:
        """Consult the rule once: True when the fault fires this time."""
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def view(self) -> dict[str, Any]:
        """The rule as JSON (``GET /_sandbox/faults``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "probability": self.probability,
            "seed": self.seed,
            "path": self.path,
            "path_regex": self.path_regex,
            "seconds": self.wait_seconds if self.kind in _DEFAULT_SECONDS else self.seconds,
            "status": self.status if self.kind == "5xx" else None,
            "times": self.times,
            "seen": self.seen,
            "fired": self.fired,
        }


def _number(data: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def _integer(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}")
    return value


def parse_rule(data: dict[str, Any], rule_id: int) -> FaultRule:
    """Build a rule from its JSON form; ``ValueError`` says what is wrong.

    >>> parse_rule({"kind": "slow", "seconds": 0.5}, 7).wait_seconds
    0.5
    >>> parse_rule({"kind": "melt"}, 1)
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of drop, duplicate, delay, reorder, signtest, 5xx, timeout, slow
    """
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
    kind = data.get("kind")
    kinds: tuple[FaultKind, ...] = get_args(FaultKind)
    if kind not in kinds:
        raise ValueError(f"kind must be one of {', '.join(kinds)}")
    path, regex = data.get("path"), data.get("path_regex")
    for name, text in (("path", path), ("path_regex", regex)):
        if text is not None and (not isinstance(text, str) or not text or len(text) > 256):
            raise ValueError(f"{name} must be a non-empty string of at most 256 characters")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"path_regex does not compile: {exc}") from exc
    probability = _number(data, "probability", 0.0, 1.0)
    status = _integer(data, "status", 500, 599)
    return FaultRule(
        id=rule_id,
        kind=kind,
        probability=1.0 if probability is None else probability,
        seed=_integer(data, "seed", -(2**63), 2**63 - 1) or 0,
        path=path,
        path_regex=regex,
        seconds=_number(data, "seconds", 0.0, 86400.0 * 30),
        status=500 if status is None else status,
        times=_integer(data, "times", 0, 1_000_000_000),
    )


class FaultPlan:
    """The sandbox's active faults, consulted by the dispatcher and the middleware."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """Every rule, oldest first."""
        return tuple(self._rules)

    def add(self, data: dict[str, Any]) -> FaultRule:
        """Parse and add one rule (``ValueError`` for a bad one); returns it with its id."""
        rule = parse_rule(data, self._next_id)
        self._next_id += 1
        self._rules.append(rule)
        return rule

    def add_all(self, items: list[dict[str, Any]]) -> list[FaultRule]:
        """Add several rules, all or none (``ValueError`` names the first bad one)."""
        for position, data in enumerate(items):
            try:
                parse_rule(data, 0)
            except ValueError as exc:
                raise ValueError(f"rule {position + 1}: {exc}") from exc
        return [self.add(data) for data in items]

    def remove(self, rule_id: int) -> bool:
        """Drop the rule with this id; False when there is none."""
        kept = [rule for rule in self._rules if rule.id != rule_id]
        found = len(kept) != len(self._rules)
        self._rules = kept
        return found

    def clear(self) -> None:
        """Drop every rule."""
        self._rules = []

    def _first_firing(self, kinds: frozenset[str], path: str) -> FaultRule | None:
        for rule in self._rules:
            if rule.kind in kinds and rule.matches(path) and rule.roll():
                return rule
        return None

    def http_fault(self, path: str) -> FaultRule | None:
        """The API fault (5xx / timeout / slow) that fires for this request path, if any."""
        if path.startswith(_CONTROL_PREFIX):
            return None
        return self._first_firing(HTTP_KINDS, path)

    def notify_fault(self, kind: FaultKind, url: str) -> FaultRule | None:
        """The rule of ``kind`` that fires for a notification to ``url``, if any."""
        return self._first_firing(frozenset({kind}), urlsplit(url).path or "/")


def _fault_response(path: str, status: int) -> Response:
    if path.startswith("/v3/"):
        return JSONResponse({"code": "SYSTEM_ERROR", "message": "系统异常，请稍后重试"}, status)
    if path.startswith(("/pay/", "/secapi/")):
        body = to_xml(
            {"return_code": "FAIL", "return_msg": "系统繁忙，请稍后再试", "err_code": "SYSTEMERROR"}
        )
        return Response(body, status, media_type="text/xml")
    return JSONResponse({"errcode": -1, "errmsg": "system error"}, status)


class FaultMiddleware:
    """Apply the plan's API faults to incoming requests, before or after the app answers."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root: str = scope.get("root_path", "")
        full: str = scope["path"]
        path = full[len(root) :] if root and full.startswith(root) else full
        rule = self.plan.http_fault(path)
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "5xx":
            await _fault_response(path, rule.status)(scope, receive, send)
        elif rule.kind == "slow":
            await asyncio.sleep(rule.wait_seconds)
            await self.app(scope, receive, send)
        else:  # timeout: the request takes effect, the answer comes too late for the client
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await asyncio.sleep(rule.wait_seconds)
            try:
                for message in held:
                    await send(message)
            except OSError:  # the client gave up and closed the connection: that is the point
                return
