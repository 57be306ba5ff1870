"""Server-Sent Events: one event per change, heartbeats while idle, a retry hint first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from paydesk.web.sse import RETRY_MS, event_stream, sse_event


async def feed(*phases: str) -> AsyncIterator[Mapping[str, Any]]:
    for phase in phases:
        yield {"phase": phase}


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [chunk async for chunk in stream]


async def test_changes_become_events_and_repeats_heartbeats() -> None:
    chunks = await collect(
        event_stream(feed("open", "open", "open", "open", "paid"), heartbeat_every=2)
    )
    assert chunks == [
        f"retry: {RETRY_MS}\n\n",
        'event: status\ndata: {"phase":"open"}\n\n',
        ": still waiting\n\n",
        'event: status\ndata: {"phase":"paid"}\n\n',
    ]


async def test_an_empty_feed_only_sends_the_retry_hint() -> None:
    assert await collect(event_stream(feed())) == [f"retry: {RETRY_MS}\n\n"]


def test_an_event_is_one_json_line_even_with_newlines_in_values() -> None:
    event = sse_event("status", {"description": "两行\n文字"})
    name, data, blank, end = event.split("\n")
    assert (name, blank, end) == ("event: status", "", "")
    assert json.loads(data.removeprefix("data: ")) == {"description": "两行\n文字"}
