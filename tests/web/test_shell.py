"""The per-request page shell: Beijing times, JSON safe inside a script element."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from paydesk.web.shell import beijing_time, script_json


def test_beijing_time_crosses_midnight() -> None:
    assert beijing_time(datetime(2026, 12, 31, 16, 5, tzinfo=UTC)) == "2027-01-01 00:05"


def test_script_json_cannot_close_the_script_element() -> None:
    value = {"package": "prepay_id=wx1", "x": "</script><!-- & -->"}
    text = script_json(value)
    assert not {"<", ">", "&"} & set(text)
    assert json.loads(text) == value
