"""Server-Sent Events for the live status of a cashier page.

Each change is one ``status`` event whose data is the view's JSON; unchanged polls are
skipped, and a comment line keeps idle connections (and the proxies between) awake. The
stream opens with a ``retry`` hint, so a browser whose stream was cut reconnects quickly
(https://html.spec.whatwg.org/multipage/server-sent-events.html).

>>> sse_event("status", {"phase": "paid"})
'event: status\\ndata: {"phase":"paid"}\\n\\n'
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

__all__ = ["RETRY_MS", "event_stream", "sse_event"]

#: How long a browser waits before reconnecting a cut stream.
RETRY_MS = 3000


def sse_event(event: str, data: Mapping[str, Any]) -> str:
    """One event: a name and a JSON payload on a single ``data`` line."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


async def event_stream(
    snapshots: AsyncIterator[Mapping[str, Any]], *, heartbeat_every: int = 15
) -> AsyncIterator[str]:
    """Encode successive snapshots: an event per change, a heartbeat every so many repeats.

    >>> import asyncio
    >>> async def snapshots():
    ...     for phase in ("open", "open", "paid"):
    ...         yield {"phase": phase}
    >>> async def collect():
    ...     return [chunk async for chunk in event_stream(snapshots(), heartbeat_every=1)]
    >>> [chunk.split("\\n")[0] for chunk in asyncio.run(collect())]
    ['retry: 3000', 'event: status', ': still waiting', 'event: status']
    """
    yield f"retry: {RETRY_MS}\n\n"
    last: Mapping[str, Any] | None = None
    quiet = 0
    async for snapshot in snapshots:
        if snapshot != last:
            yield sse_event("status", snapshot)
            last = snapshot
            quiet = 0
            continue
        quiet += 1
        if quiet >= heartbeat_every:
            yield ": still waiting\n\n"
            quiet = 0
