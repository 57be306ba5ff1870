"""Delivering a push: one HTTP exchange with a deadline, and WeChat's three retries.

The merchant must answer HTTP 200 with ``success`` or an empty body within 5 s (PROTOCOL.md
§4.3); otherwise WeChat sends the same bytes again, three more times. The sandbox retries at
once and records every attempt.

https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/customer-message/receive.html
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from paydesk.sandbox.identity.push_build import SealedPush

#: The merchant's deadline, in wall seconds.
PUSH_DEADLINE = 5.0
#: Tries after the first one.
RETRIES = 3
MAX_URL_LENGTH = 1024
EXCERPT = 200


@dataclass(frozen=True)
class Attempt:
    """One try at delivering a push (or a server check)."""

    number: int
    time: str
    url: str
    status: int | None
    response: str
    error: str | None
    elapsed_ms: int

    def view(self) -> dict[str, Any]:
        """The attempt as JSON."""
        return {
            "attempt": self.number,
            "time": self.time,
            "url": self.url,
            "status": self.status,
            "response": self.response,
            "error": self.error,
            "elapsed_ms": self.elapsed_ms,
        }


def is_acknowledged(attempt: Attempt) -> bool:
    """``success`` or an empty body with HTTP 200 — or a passive reply message, which also
    answers the push (an official account may reply in its response).

    >>> is_acknowledged(Attempt(1, "t", "u", 200, "success", None, 3))
    True
    >>> is_acknowledged(Attempt(1, "t", "u", 500, "success", None, 3))
    False
    """
    if attempt.status != 200:
        return False
    text = attempt.response.strip()
    return text in ("", "success") or text.startswith(("<xml", "{"))


def is_http_url(url: object) -> bool:
    """An absolute ``http(s)://host/...`` URL of reasonable length that httpx can send to.

    >>> is_http_url("https://m.example/wechat/push"), is_http_url("ftp://m.example/")
    (True, False)
    """
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        return False
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host) and (port or 1) <= 65535


def with_query(url: str, query: dict[str, str]) -> str:
    """``url`` with a push's signed ``query`` appended.

    >>> with_query("http://m/push?app=1", {"nonce": "7"})
    'http://m/push?app=1&nonce=7'
    """
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(query)}"


#: ``(number, method, url, sealed, content_type) -> Attempt``: one try, as :func:`deliver` makes it.
Exchange = Callable[[int, str, str, SealedPush, str | None], Awaitable[Attempt]]


async def exchange(
    http: httpx.AsyncClient,
    *,
    number: int,
    method: str,
    url: str,
    sealed: SealedPush,
    content_type: str | None,
    deadline: float,
    when: str,
) -> Attempt:
    """One request to the merchant (``sealed.query`` appended to ``url``), never raising:
    timeouts and transport errors become the attempt's ``error``."""
    full_url = with_query(url, sealed.query)
    headers = {"Content-Type": content_type} if content_type else {}
    started = time.perf_counter()
    status: int | None = None
    text, error = "", None
    try:
        # The deadline covers the whole exchange, whatever the transport (in-process too).
        async with asyncio.timeout(deadline):
            response = await http.request(
                method, full_url, content=sealed.body or None, headers=headers
            )
        status, text = response.status_code, response.text[:EXCERPT]
    except (TimeoutError, httpx.TimeoutException):
        error = f"no answer within {deadline:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed = int((time.perf_counter() - started) * 1000)
    return Attempt(number, when, full_url, status, text, error, elapsed)


async def deliver(send: Exchange, url: str, sealed: SealedPush, content_type: str) -> list[Attempt]:
    """POST ``sealed`` until acknowledged, at most ``1 + RETRIES`` times."""
    attempts: list[Attempt] = []
    for number in range(1, RETRIES + 2):
        attempt = await send(number, "POST", url, sealed, content_type)
        attempts.append(attempt)
        if is_acknowledged(attempt):
            break
    return attempts
