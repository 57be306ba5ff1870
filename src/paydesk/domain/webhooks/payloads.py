"""The bytes a webhook carries: one canonical JSON encoding of the stored event.

The outbox keeps the event as a JSON value (``JSONB`` on PostgreSQL, which does not keep key
order), so the body is re-encoded the same way on every try and every backend: ``id``, ``type``,
``created``, ``data`` first, every nested object with sorted keys, no spaces, UTF-8::

    >>> encode_event({"data": {"b": 1, "a": "茶"}, "created": 1, "type": "order.paid", "id": "e"})
    b'{"id":"e","type":"order.paid","created":1,"data":{"a":"\\xe8\\x8c\\xb6","b":1}}'

The signature is computed over exactly these bytes and they are sent as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["EVENT_KEYS", "encode_event"]

#: The top-level keys of every event, in the order they are sent.
EVENT_KEYS = ("id", "type", "created", "data")


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode_event(payload: Mapping[str, Any]) -> bytes:
    """The request body for ``payload`` (an outbox event's stored JSON).

    >>> encode_event({"id": "e", "extra": True})
    b'{"id":"e","extra":true}'
    """
    keys = [k for k in EVENT_KEYS if k in payload] + sorted(
        k for k in payload if k not in EVENT_KEYS
    )
    members = ",".join(f"{_encode(key)}:{_encode(payload[key])}" for key in keys)
    return ("{" + members + "}").encode("utf-8")
