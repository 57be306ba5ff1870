"""The one place where httpx is called: deadlines, httpx errors mapped once, and retries.

Every request goes through :meth:`Boundary.send`, which

- enforces the deadline twice: as httpx's timeout *and* with :func:`asyncio.timeout`, because
  ``httpx.ASGITransport`` (the in-process sandbox) ignores httpx's timeouts;
- maps httpx's exceptions into :class:`TransportFailed` (nothing reached WeChat: connect error
  or timeout, pool timeout, proxy error) or :class:`OutcomeUnknown` (the request may have been
  received: read or write timeout, dropped connection, the deadline after sending started).

:func:`with_retries` retries only what is safe to resend: :class:`TransportFailed` and
retryable :class:`UpstreamUnavailable`, never :class:`OutcomeUnknown`.

>>> [backoff_delay(n) for n in range(5)]
[0.1, 0.2, 0.4, 0.8, 1.0]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from paydesk import __version__
from paydesk.client.errors import (
    OutcomeUnknown,
    TransportFailed,
    UpstreamUnavailable,
    WeChatError,
)

__all__ = ["USER_AGENT", "Boundary", "Sleep", "backoff_delay", "with_retries"]

#: Sent on every request; WeChat Pay refuses requests without a User-Agent (PROTOCOL.md §1.1).
USER_AGENT = f"paydesk/{__version__}"

#: How the client waits between attempts (``asyncio.sleep``; tests pass a recorder).
Sleep = Callable[[float], Awaitable[None]]

T = TypeVar("T")

# httpx errors raised before a byte of the request left this process.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt + 1``: 0.1 s doubling, at most 1 s."""
    return float(min(0.1 * 2**attempt, 1.0))


class _Progress:
    """Records httpcore's trace events, to tell "never sent" from "maybe received".

    Transports that do not trace (ASGI, mock) leave ``traced`` False: once they were called,
    the request counts as sent.
    """

    def __init__(self) -> None:
        self.traced = False
        self.sending = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        self.traced = True
        # "http11.send_request_headers.started", "http2.send_request_headers.started", …
        if ".send_request" in event:
            self.sending = True

    @property
    def surely_unsent(self) -> bool:
        return self.traced and not self.sending


class Boundary:
    """Sends one request through an ``httpx.AsyncClient`` under a deadline, mapping failures."""

    def __init__(self, http: httpx.AsyncClient, *, timeout: float) -> None:
        self.http = http
        self.timeout = timeout

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole answer, whatever its status."""
        progress = _Progress()
        request.extensions["trace"] = progress.trace
        request.extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        what = f"{request.method} {request.url.path}"
        try:
            async with asyncio.timeout(self.timeout):
                return await self.http.send(request)
        except TimeoutError as exc:
            if progress.surely_unsent:
                raise TransportFailed(f"{what}: deadline passed before sending") from exc
            raise OutcomeUnknown(f"{what}: no answer within {self.timeout} s") from exc
        except _NOT_SENT as exc:
            raise TransportFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"{what}: {type(exc).__name__}: {exc}") from exc


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    retries: int,
    sleep: Sleep,
    retry_upstream: bool = True,
) -> T:
    """Run ``attempt`` and retry it at most ``retries`` times on a failure safe to resend.

    ``retry_upstream=False`` retries only :class:`TransportFailed` (for calls that consume a
    one-time code, where even a 5xx may have used it up).
    """
    retryable: tuple[type[WeChatError], ...] = (
        (TransportFailed, UpstreamUnavailable) if retry_upstream else (TransportFailed,)
    )
    failures = 0
    while True:
        try:
            return await attempt()
        except retryable as exc:
            if failures >= retries or not exc.retryable:
                raise
            await sleep(backoff_delay(failures))
            failures += 1
