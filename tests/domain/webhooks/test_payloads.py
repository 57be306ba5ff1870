"""The canonical body: stable across tries and backends, id first, UTF-8, no spaces."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from paydesk.domain.webhooks.payloads import encode_event

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_event_keys_first_then_the_rest_sorted() -> None:
    payload = {
        "zeta": 1,
        "data": {"b": [2, {"y": 1, "x": 0}], "a": "一杯咖啡"},
        "type": "order.paid",
        "alpha": None,
        "created": 1714536000,
        "id": "evt_1",
    }
    assert (
        encode_event(payload)
        == (
            '{"id":"evt_1","type":"order.paid","created":1714536000,'
            '"data":{"a":"一杯咖啡","b":[2,{"x":0,"y":1}]},"alpha":null,"zeta":1}'
        ).encode()
    )


@given(data=st.dictionaries(st.text(), JSON_VALUES, max_size=5))
def test_round_trips_and_ignores_key_order(data: dict[str, Any]) -> None:
    payload = {"id": "evt_1", "type": "order.paid", "created": 1, "data": data}
    body = encode_event(payload)
    assert json.loads(body) == payload
    reordered = dict(reversed(list(payload.items())))
    reordered["data"] = dict(reversed(list(data.items())))
    assert encode_event(reordered) == body
