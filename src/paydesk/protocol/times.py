"""WeChat's time formats, pure conversions (PROTOCOL.md §1.1, §2.2; DESIGN.md "Times").

Store UTC; speak RFC 3339 with ``+08:00`` to APIv3 and ``yyyyMMddHHmmss`` Beijing time to v2.
China has had no daylight saving since 1991, so Beijing time is a fixed ``+08:00`` offset.

>>> from datetime import datetime, timezone
>>> to_rfc3339_beijing(datetime(2015, 5, 20, 5, 29, 35, tzinfo=timezone.utc))
'2015-05-20T13:29:35+08:00'
>>> parse_v2_time("20150520132935") == parse_rfc3339("2015-05-20T13:29:35+08:00")
True
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from paydesk.protocol.errors import MalformedInput

__all__ = [
    "BEIJING",
    "from_unix",
    "parse_rfc3339",
    "parse_v2_time",
    "to_rfc3339_beijing",
    "to_unix",
    "to_v2_time",
]

#: China Standard Time, the zone every WeChat timestamp string is written in.
BEIJING = timezone(timedelta(hours=8), "CST")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)

# RFC 3339 §5.6 date-time; "T"/"Z" may be lowercase (§5.6 NOTE). Fractions are tolerated.
# ASCII digits only: \d would also take other scripts' digits, which int() happily reads.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
_V2_TIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})")


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise MalformedInput("a timezone-aware datetime is required", field="datetime")


def to_rfc3339_beijing(dt: datetime) -> str:
    """``dt`` as ``yyyy-MM-DDTHH:mm:ss+08:00``; sub-second parts are dropped (WeChat has none).

    >>> to_rfc3339_beijing(datetime(2024, 1, 1))
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.MalformedInput: a timezone-aware datetime is required
    """
    _require_aware(dt)
    return dt.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def parse_rfc3339(text: str) -> datetime:
    """An aware datetime from an RFC 3339 date-time (any offset, ``Z`` accepted).

    >>> parse_rfc3339("2021-04-27T16:55:23+08:00").isoformat()
    '2021-04-27T16:55:23+08:00'
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise MalformedInput(f"not an RFC 3339 date-time: {text[:40]!r}", field="time")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        tz = UTC
    else:
        if int(off_h) > 23 or int(off_m) > 59:
            raise MalformedInput(f"bad UTC offset in {text[:40]!r}", field="time")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError as exc:
        raise MalformedInput(f"impossible date-time: {text[:40]!r}", field="time") from exc


def to_v2_time(dt: datetime) -> str:
    """``dt`` as APIv2's ``yyyyMMddHHmmss`` in Beijing time.

    >>> to_v2_time(datetime(2015, 5, 20, 5, 29, 35, tzinfo=timezone.utc))
    '20150520132935'
    """
    _require_aware(dt)
    return dt.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def parse_v2_time(text: str) -> datetime:
    """An aware (``+08:00``) datetime from APIv2's ``yyyyMMddHHmmss``.

    >>> parse_v2_time("2015-05-20")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.MalformedInput: not a yyyyMMddHHmmss time: '2015-05-20'
    """
    match = _V2_TIME.fullmatch(text)
    if match is None:
        raise MalformedInput(f"not a yyyyMMddHHmmss time: {text[:40]!r}", field="time")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=BEIJING)
    except ValueError as exc:
        raise MalformedInput(f"impossible time: {text!r}", field="time") from exc


def to_unix(dt: datetime) -> int:
    """Whole seconds since the Unix epoch, rounded down (what ``Wechatpay-Timestamp`` holds).

    >>> to_unix(datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc))
    1
    """
    _require_aware(dt)
    return (dt - _EPOCH) // _SECOND


def from_unix(ts: int) -> datetime:
    """The UTC datetime of a Unix timestamp in seconds.

    >>> from_unix(1554208460).isoformat()
    '2019-04-02T12:34:20+00:00'
    """
    try:
        return _EPOCH + timedelta(seconds=ts)
    except OverflowError as exc:
        raise MalformedInput(f"timestamp out of range: {ts}", field="timestamp") from exc
