"""After the road: the result page, the status JSON and the live status stream.

All three ask the server — the result page makes it ask WeChat at once while the order is
PAYING; the status and the stream share a per-order throttle — and none of them takes the
browser's word (a ``?r=ok`` from the JSAPI page only chooses the wording while we check).

    GET /pay/{token}/result[?r=ok|cancel|fail]   the page
    GET /pay/{token}/status                      {"phase", "state", "paid", "final", …}
    GET /pay/{token}/events                      text/event-stream of the same, until final
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from paydesk.domain.cashier.links import open_link
from paydesk.domain.cashier.status import look, watch
from paydesk.domain.errors import DomainError, NotFound
from paydesk.web.roads import invalid_link
from paydesk.web.shell import Shell
from paydesk.web.sse import event_stream

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["HINTS", "WATCH", "WatchTiming", "result_page", "status_events", "status_of"]

#: What the JSAPI page may say happened (wording only).
HINTS = frozenset({"ok", "cancel", "fail"})


class WatchTiming:
    """How the live stream polls; one instance, :data:`WATCH`, tests may shorten it."""

    def __init__(self, poll_seconds: float = 1.0, max_seconds: float = 300.0) -> None:
        self.poll_seconds = poll_seconds
        self.max_seconds = max_seconds


#: The live stream's timing: the database every second, a stream at most five minutes (the
#: browser reconnects by itself after that, which frees idle connections).
WATCH = WatchTiming()


def _order_id(services: Services, token: str) -> str:
    try:
        return open_link(services, token).order_id
    except DomainError as exc:
        raise NotFound("invalid_cashier", "no payment link like this one") from exc


async def result_page(services: Services, request: Request, token: str) -> Response:
    """The outcome as the server knows it: paid, still being confirmed, closed or expired."""
    shell = Shell.of(services, request, token)
    try:
        opened = open_link(services, token)
    except DomainError:
        return invalid_link(shell)
    view = await look(services, opened.order_id, sync="always")
    hint = request.query_params.get("r", "")
    return shell.page(
        "result.html",
        view,
        hint=hint if hint in HINTS else "",
        pay_url=shell.url(),
        result_url=shell.url("/result"),
        status_url=shell.url("/status"),
        events_url=shell.url("/events"),
    )


async def status_of(services: Services, token: str) -> dict[str, Any]:
    """The polling fallback's answer (NotFound for a link that is not ours)."""
    view = await look(services, _order_id(services, token))
    return view.public()


async def status_events(services: Services, token: str) -> StreamingResponse:
    """The live stream; the link is checked before the stream starts (NotFound otherwise)."""
    order_id = _order_id(services, token)

    async def snapshots() -> AsyncIterator[dict[str, Any]]:
        views = watch(
            services, order_id, poll_seconds=WATCH.poll_seconds, max_seconds=WATCH.max_seconds
        )
        async for view in views:
            yield view.public()

    return StreamingResponse(
        event_stream(snapshots()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
