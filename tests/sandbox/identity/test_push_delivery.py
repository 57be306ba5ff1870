"""One exchange with the merchant (deadline, errors, query) and the retry loop, on stub
transports; the endpoint-level retries are in test_push.py."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from paydesk.sandbox.identity.push_build import SealedPush
from paydesk.sandbox.identity.push_delivery import (
    RETRIES,
    Attempt,
    deliver,
    exchange,
    is_acknowledged,
    is_http_url,
)

SEALED = SealedPush({"signature": "s", "timestamp": "1", "nonce": "n"}, b"<xml/>")


def attempt(status: int | None, response: str = "") -> Attempt:
    return Attempt(1, "t", "u", status, response, None, 0)


@pytest.mark.parametrize(
    ("status", "response", "acknowledged"),
    [
        (200, "", True),
        (200, "success", True),
        (200, " success\r\n", True),
        (200, "<xml><MsgType>text</MsgType></xml>", True),
        (200, '{"MsgType":"text"}', True),
        (200, "SUCCESS", False),
        (200, "ok", False),
        (204, "", False),
        (500, "success", False),
        (None, "", False),
    ],
)
def test_what_counts_as_an_answer(status: int | None, response: str, acknowledged: bool) -> None:
    assert is_acknowledged(attempt(status, response)) is acknowledged


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://m.example/push", True),
        ("http://127.0.0.1:8000/push?tenant=1", True),
        ("http://[::1]:8000/push", True),
        ("ftp://m.example/", False),
        ("https://", False),
        ("/push", False),
        ("http://[::1/", False),
        ("http://m.example:70000/", False),
        ("https://m.example/" + "x" * 1024, False),
        (None, False),
    ],
)
def test_push_urls(url: object, ok: bool) -> None:
    assert is_http_url(url) is ok


async def test_an_exchange_appends_the_query_and_records_the_answer() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="success" + "!" * 300)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        result = await exchange(
            http,
            number=2,
            method="POST",
            url="https://m.example/p?tenant=1",
            sealed=SEALED,
            content_type="text/xml",
            deadline=1,
            when="2026-01-01T00:00:00+00:00",
        )
    assert str(seen[0].url) == "https://m.example/p?tenant=1&signature=s&timestamp=1&nonce=n"
    assert seen[0].headers["content-type"] == "text/xml"
    assert seen[0].content == b"<xml/>"
    assert (result.number, result.status, result.error) == (2, 200, None)
    assert len(result.response) == 200
    assert result.view()["attempt"] == 2


async def test_an_exchange_turns_slowness_and_failures_into_errors() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200)

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    errors = []
    for handler in (slow, broken, refused):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            result = await exchange(
                http,
                number=1,
                method="GET",
                url="https://m.example/p",
                sealed=SEALED,
                content_type=None,
                deadline=0.05,
                when="t",
            )
        assert result.status is None
        errors.append(result.error)
    assert errors == ["no answer within 0.05 s", "no answer within 0.05 s", "ConnectError: refused"]


async def test_deliver_stops_at_the_first_acknowledged_attempt() -> None:
    statuses = iter([500, 502, 200, 200])
    calls: list[int] = []

    async def send(
        number: int, method: str, url: str, sealed: SealedPush, content_type: str | None
    ) -> Attempt:
        calls.append(number)
        return attempt(next(statuses))

    attempts = await deliver(send, "https://m.example/p", SEALED, "text/xml")
    assert calls == [1, 2, 3]
    assert [a.status for a in attempts] == [500, 502, 200]


async def test_deliver_gives_up_after_three_retries() -> None:
    async def send(
        number: int, method: str, url: str, sealed: SealedPush, content_type: str | None
    ) -> Attempt:
        return Attempt(number, "t", url, 500, "", None, 0)

    attempts = await deliver(send, "https://m.example/p", SEALED, "text/xml")
    assert [a.number for a in attempts] == list(range(1, RETRIES + 2))
