"""paydesk.protocol.times: WeChat's RFC 3339 (+08:00), v2 yyyyMMddHHmmss and Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.times import (
    BEIJING,
    from_unix,
    parse_rfc3339,
    parse_v2_time,
    to_rfc3339_beijing,
    to_unix,
    to_v2_time,
)

aware = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.sampled_from([UTC, BEIJING, timezone(timedelta(hours=-5, minutes=-30))]),
)


def test_official_examples() -> None:
    # PROTOCOL.md §1.8 envelope create_time and §1.4 certificate times.
    moment = parse_rfc3339("2015-05-20T13:29:35+08:00")
    assert moment == datetime(2015, 5, 20, 5, 29, 35, tzinfo=UTC)
    assert to_rfc3339_beijing(moment) == "2015-05-20T13:29:35+08:00"
    assert to_v2_time(moment) == "20150520132935"
    assert parse_v2_time("20150520132935") == moment
    assert parse_v2_time("20150520132935").utcoffset() == timedelta(hours=8)


def test_unix_seconds_of_the_official_signature_timestamp() -> None:
    moment = from_unix(1554208460)
    assert moment.tzinfo is UTC
    assert to_unix(moment) == 1554208460
    assert to_rfc3339_beijing(moment) == "2019-04-02T20:34:20+08:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-04-27T16:55:23Z", datetime(2021, 4, 27, 16, 55, 23, tzinfo=UTC)),
        ("2021-04-27t16:55:23z", datetime(2021, 4, 27, 16, 55, 23, tzinfo=UTC)),
        ("2021-04-27T16:55:23.5+08:00", datetime(2021, 4, 27, 8, 55, 23, 500000, tzinfo=UTC)),
        ("2021-04-27T16:55:23.123456789Z", datetime(2021, 4, 27, 16, 55, 23, 123456, tzinfo=UTC)),
        ("2021-04-27T16:55:23-05:30", datetime(2021, 4, 27, 22, 25, 23, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339_variants(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2021-04-27",
        "2021-04-27 16:55:23+08:00",
        "2021-04-27T16:55:23",
        "2021-04-27T16:55:23+0800",
        "20210427T165523Z",
        "2021-04-27T16:55:23+08:00 ",
        "２０２１-04-27T16:55:23+08:00",
        "2021-02-30T16:55:23+08:00",
        "2021-04-27T24:00:00+08:00",
        "2021-04-27T16:55:60+08:00",
        "2021-04-27T16:55:23+24:00",
        "2021-04-27T16:55:23+08:60",
    ],
)
def test_parse_rfc3339_refuses(text: str) -> None:
    with pytest.raises(MalformedInput) as info:
        parse_rfc3339(text)
    assert info.value.field == "time"


@pytest.mark.parametrize(
    "text",
    ["", "2015052013293", "201505201329350", "2015-05-20", "20150230120000", "2015０520132935"],
)
def test_parse_v2_time_refuses(text: str) -> None:
    with pytest.raises(MalformedInput):
        parse_v2_time(text)


@pytest.mark.parametrize("convert", [to_rfc3339_beijing, to_v2_time, to_unix])
def test_naive_datetimes_are_refused(convert: object) -> None:
    with pytest.raises(MalformedInput, match="timezone-aware"):
        convert(datetime(2024, 1, 1))  # type: ignore[operator]


def test_sub_seconds_are_dropped_and_unix_rounds_down() -> None:
    moment = datetime(2024, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)
    assert to_rfc3339_beijing(moment) == "2024-01-01T08:00:00+08:00"
    assert to_unix(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)) == -1


def test_from_unix_out_of_range() -> None:
    with pytest.raises(MalformedInput, match="out of range"):
        from_unix(10**20)


@settings(max_examples=50)
@given(aware)
def test_rfc3339_round_trip(moment: datetime) -> None:
    text = to_rfc3339_beijing(moment)
    assert text.endswith("+08:00")
    assert parse_rfc3339(text) == moment.replace(microsecond=0)


@settings(max_examples=50)
@given(aware)
def test_v2_round_trip(moment: datetime) -> None:
    text = to_v2_time(moment)
    assert len(text) == 14
    assert parse_v2_time(text) == moment.replace(microsecond=0)


@settings(max_examples=50)
@given(st.integers(min_value=-(2**33), max_value=2**35))
def test_unix_round_trip(seconds: int) -> None:
    assert to_unix(from_unix(seconds)) == seconds
