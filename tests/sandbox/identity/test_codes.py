"""Single-use codes: ok once, then used; expired at five minutes; bound to their app."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from paydesk.sandbox.identity.codes import (
    CODE_LENGTH,
    CODE_LIFETIME,
    KEEP_SPENT,
    OneTimeCodes,
    forget_expired,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_code_works_once_then_answers_used() -> None:
    codes = OneTimeCodes(random.Random(1))
    issued = codes.issue("wxA", "oU", T0, scope="snsapi_base")
    assert len(issued.code) == CODE_LENGTH
    assert issued.code.isalnum()
    first = codes.redeem(issued.code, "wxA", T0)
    assert first.outcome == "ok"
    assert first.issued is not None
    assert (first.issued.unionid, first.issued.scope) == ("oU", "snsapi_base")
    again = codes.redeem(issued.code, "wxA", T0)
    assert (again.outcome, again.issued) == ("used", None)


def test_a_code_expires_exactly_five_minutes_after_issue() -> None:
    codes = OneTimeCodes(random.Random(1))
    late = codes.issue("wxA", "oU", T0).code
    just_in_time = codes.issue("wxA", "oU", T0).code
    assert codes.redeem(late, "wxA", T0 + CODE_LIFETIME).outcome == "expired"
    almost = T0 + CODE_LIFETIME - timedelta(microseconds=1)
    assert codes.redeem(just_in_time, "wxA", almost).outcome == "ok"


def test_unknown_codes_and_codes_of_another_app_are_invalid() -> None:
    codes = OneTimeCodes(random.Random(1))
    code = codes.issue("wxA", "oU", T0).code
    assert codes.redeem("nope", "wxA", T0).outcome == "invalid"
    assert codes.redeem(code, "wxB", T0).outcome == "invalid"
    assert codes.redeem(code, "wxA", T0).outcome == "ok"


def test_spent_codes_are_forgotten_after_an_hour_and_reset_forgets_all() -> None:
    codes = OneTimeCodes(random.Random(1))
    old = codes.issue("wxA", "oU", T0).code
    codes.redeem(old, "wxA", T0)
    kept = codes.issue("wxA", "oU", T0 + KEEP_SPENT).code
    assert codes.redeem(old, "wxA", T0 + KEEP_SPENT).outcome == "used"
    codes.issue("wxA", "oU", T0 + CODE_LIFETIME + KEEP_SPENT + timedelta(seconds=1))
    assert codes.redeem(old, "wxA", T0).outcome == "invalid"
    assert codes.redeem(kept, "wxA", T0 + KEEP_SPENT).outcome == "ok"
    codes.reset()
    assert codes.redeem(kept, "wxA", T0).outcome == "invalid"


def test_forget_expired_stops_at_the_first_live_entry() -> None:
    entries = {"a": T0, "b": T0 + timedelta(hours=2), "c": T0 + timedelta(hours=1)}
    forget_expired(entries, T0 + timedelta(minutes=30), lambda when: when)
    assert list(entries) == ["b", "c"]
    forget_expired(entries, T0 + timedelta(days=1), lambda when: when)
    assert entries == {}
