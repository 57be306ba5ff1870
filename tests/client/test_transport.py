"""The httpx boundary: each httpx failure maps once to "not sent" or "outcome unknown", the
deadline holds on transports that ignore timeouts, and retries are only the safe ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from paydesk.client._transport import Boundary, backoff_delay, with_retries
from paydesk.client.errors import (
    OutcomeUnknown,
    RateLimited,
    TransportFailed,
    UpstreamUnavailable,
    WeChatError,
)

Sleep = Callable[[float], Awaitable[None]]
URL = "https://api.mch.weixin.qq.com/v3/certificates"


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (10, 1.0)],  # 0.1·2ⁿ, capped at 1 s
)
def test_backoff_doubles_and_is_capped(attempt: int, delay: float) -> None:
    assert backoff_delay(attempt) == delay


def raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("foreign", "mapped"),
    [
        (httpx.ConnectError("refused"), TransportFailed),
        (httpx.ConnectTimeout("connect timeout"), TransportFailed),
        (httpx.PoolTimeout("pool timeout"), TransportFailed),
        (httpx.ProxyError("proxy"), TransportFailed),
        (httpx.UnsupportedProtocol("ftp"), TransportFailed),
        (httpx.LocalProtocolError("bad header"), TransportFailed),
        (httpx.ReadTimeout("read timeout"), OutcomeUnknown),
        (httpx.WriteTimeout("write timeout"), OutcomeUnknown),
        (httpx.ReadError("reset"), OutcomeUnknown),
        (httpx.WriteError("broken pipe"), OutcomeUnknown),
        (httpx.RemoteProtocolError("server disconnected"), OutcomeUnknown),
        (httpx.CloseError("close"), OutcomeUnknown),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
async def test_httpx_errors_are_mapped_once(
    foreign: httpx.HTTPError, mapped: type[WeChatError]
) -> None:
    async with httpx.AsyncClient(transport=raising(foreign)) as http:
        with pytest.raises(mapped) as caught:
            await Boundary(http, timeout=5).send(http.build_request("GET", URL))
    assert type(caught.value) is mapped
    assert caught.value.__cause__ is foreign
    assert "GET /v3/certificates" in str(caught.value)


async def test_the_request_carries_the_deadline_as_httpx_timeout() -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        response = await Boundary(http, timeout=3.5).send(http.build_request("GET", URL))
    assert response.status_code == 204
    assert seen == [{"connect": 3.5, "read": 3.5, "write": 3.5, "pool": 3.5}]


def stalling(events: list[str]) -> httpx.MockTransport:
    """A transport that reports httpcore trace events, then never answers."""

    async def handler(request: httpx.Request) -> httpx.Response:
        for event in events:
            await request.extensions["trace"](event, {})
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("events", "mapped"),
    [
        ([], OutcomeUnknown),  # an ASGI or mock transport: once called, it counts as sent
        (["connection.connect_tcp.started"], TransportFailed),
        (
            ["connection.connect_tcp.complete", "http11.send_request_headers.started"],
            OutcomeUnknown,
        ),
        (["http2.send_request_headers.started"], OutcomeUnknown),
    ],
)
async def test_a_deadline_is_outcome_unknown_once_sending_may_have_started(
    events: list[str], mapped: type[WeChatError]
) -> None:
    async with httpx.AsyncClient(transport=stalling(events)) as http:
        with pytest.raises(mapped) as caught:
            await Boundary(http, timeout=0.02).send(http.build_request("POST", URL, content=b"{}"))
    assert type(caught.value) is mapped
    assert isinstance(caught.value.__cause__, TimeoutError)


# ---------------------------------------------------------------- with_retries


class Script:
    """An attempt function that fails as scripted, then succeeds."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


@pytest.mark.parametrize(
    ("failures", "calls"),
    [
        ([], 1),
        ([TransportFailed("x")], 2),
        ([TransportFailed("x"), UpstreamUnavailable("y", status=500)], 3),
    ],
)
async def test_safe_failures_are_retried(
    failures: list[Exception], calls: int, sleep: Sleep, sleeps: list[float]
) -> None:
    script = Script(*failures)
    assert await with_retries(script, retries=2, sleep=sleep) == "ok"
    assert script.calls == calls
    assert sleeps == [0.1, 0.2][: calls - 1]


@pytest.mark.parametrize(
    "failure",
    [
        OutcomeUnknown("read timeout"),
        RateLimited("slow down", status=429),
        UpstreamUnavailable("not this one", status=500, retryable=False),
    ],
    ids=["outcome-unknown", "rate-limited", "not-retryable-5xx"],
)
async def test_unsafe_failures_are_raised_at_once(
    failure: WeChatError, sleep: Sleep, sleeps: list[float]
) -> None:
    script = Script(failure)
    with pytest.raises(type(failure)):
        await with_retries(script, retries=2, sleep=sleep)
    assert script.calls == 1
    assert sleeps == []


async def test_retries_stop_at_the_limit(sleep: Sleep, sleeps: list[float]) -> None:
    script = Script(*(TransportFailed(str(n)) for n in range(4)))
    with pytest.raises(TransportFailed, match=r"^1$"):
        await with_retries(script, retries=1, sleep=sleep)
    assert script.calls == 2
    assert sleeps == [0.1]


async def test_without_retry_upstream_only_transport_failures_are_retried(sleep: Sleep) -> None:
    assert (
        await with_retries(
            Script(TransportFailed("x")), retries=1, sleep=sleep, retry_upstream=False
        )
        == "ok"
    )
    script = Script(UpstreamUnavailable("y", status=502))
    with pytest.raises(UpstreamUnavailable):
        await with_retries(script, retries=2, sleep=sleep, retry_upstream=False)
    assert script.calls == 1
