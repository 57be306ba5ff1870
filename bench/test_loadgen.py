"""Checks of the benches' HTTP/1.1 client against a scripted loopback server.

.venv/bin/python -m pytest -q -p no:cacheprovider bench/test_loadgen.py
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from _loadgen import Connection, ConnectionClosed, HttpClientError, Pool, ProtocolError

#: A scripted answer: bytes to send after reading one request, then whether to hang up.
Answer = tuple[bytes, bool]


@dataclass
class Script:
    """What the server answers, in order across connections, and what it was sent."""

    answers: list[Answer]
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    connections: int = 0


@asynccontextmanager
async def scripted_server(*answers: Answer) -> AsyncIterator[tuple[str, Script]]:
    script = Script(list(answers))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script.connections += 1
        try:
            while script.answers:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *lines = head.decode("latin-1")[:-4].split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                script.requests.append((line, headers, body))
                payload, hang_up = script.answers.pop(0)
                writer.write(payload)
                await writer.drain()
                if hang_up:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", script


def ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in extra)
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (head.encode(), len(body), body)


async def test_keep_alive_json_requests_share_one_connection() -> None:
    async with (
        scripted_server(
            (ok(b'{"id": 1}', "Content-Type: application/json"), False),
            (b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\n{}", False),
        ) as (url, script),
        Connection(url) as http,
    ):
        first = await http.post("/orders", json={"amount": 100}, headers={"Authorization": "B t"})
        second = await http.post("/orders/1/pay", json={"channel": "x"})
    assert (first.status_code, first.json()) == (200, {"id": 1})
    assert (second.status_code, second.text, second.headers["x-a"]) == (201, "{}", "1, 2")
    assert script.connections == 1
    line, headers, body = script.requests[0]
    assert line == "POST /orders HTTP/1.1"
    assert headers["host"] == url.removeprefix("http://")
    assert headers["authorization"] == "B t"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"amount": 100}


async def test_chunked_body_interim_response_and_no_body_status() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;name=value\r\nWiki\r\n6\r\npedia!\r\n0\r\nTrailer: yes\r\n\r\n"
    )
    async with (
        scripted_server((chunked, False), (b"HTTP/1.1 204 No Content\r\n\r\n", False)) as (url, _),
        Connection(url) as http,
    ):
        assert (await http.get("/a")).content == b"Wikipedia!"
        answer = await http.post("/b")
    assert (answer.status_code, answer.content) == (204, b"")


async def test_reconnects_only_before_sending_when_the_server_closed_an_idle_connection() -> None:
    async with (
        scripted_server(
            (ok(b"1"), True), (ok(b"2", "Connection: close"), False), (ok(b"3"), False)
        ) as (url, script),
        Connection(url) as http,
    ):
        texts = [(await http.get("/")).text]
        await asyncio.sleep(0.05)  # the hang-up reaches the client while it is idle
        texts += [(await http.get("/")).text, (await http.get("/")).text]
    assert texts == ["1", "2", "3"]
    assert script.connections == 3


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (b"", ConnectionClosed, "before answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", ConnectionClosed, "middle of the headers"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", ConnectionClosed, "3 of 10"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            ConnectionClosed,
            "2 of 5",
        ),
        (b"SSH-2.0-OpenSSH\r\n\r\n", ProtocolError, "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ProtocolError, "header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ProtocolError, "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ProtocolError, "chunk"),
    ],
)
async def test_a_broken_answer_is_a_clear_error_and_drops_the_connection(
    answer: bytes, error: type[HttpClientError], message: str
) -> None:
    async with (
        scripted_server((answer, True), (ok(b"fine"), False)) as (url, script),
        Connection(url) as http,
    ):
        with pytest.raises(error, match=message):
            await http.post("/orders", json={})
        assert (await http.get("/")).text == "fine"  # a new connection, never a resend
    assert script.connections == 2
    assert [line for line, _, _ in script.requests] == ["POST /orders HTTP/1.1", "GET / HTTP/1.1"]


async def test_refuses_what_it_cannot_send_and_unreachable_servers() -> None:
    with pytest.raises(ValueError, match="only http"):
        Connection("https://example.com")
    http = Connection("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="field name"):
        await http.get("/", headers={"Bad\r\nName": "x"})
    with pytest.raises(ValueError, match="line break"):
        await http.get("/", headers={"X": "a\r\nInjected: 1"})
    with pytest.raises(HttpClientError, match="cannot connect"):
        await http.get("/")


async def test_content_is_sent_byte_for_byte_with_the_callers_content_type() -> None:
    signed = b'{"id":"EV-1", "resource" : {}}'  # spacing kept: a signature covers these bytes
    async with (
        scripted_server((b"HTTP/1.1 204 No Content\r\n\r\n", False)) as (url, script),
        Connection(url) as http,
    ):
        answer = await http.post(
            "/notify", content=signed, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(ValueError, match="json or content"):
            await http.post("/notify", json={}, content=b"{}")
    assert answer.status_code == 204
    [(line, headers, body)] = script.requests
    assert (line, body) == ("POST /notify HTTP/1.1", signed)
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(signed))


async def test_a_pool_reuses_idle_connections_and_opens_more_only_when_all_are_busy() -> None:
    answers = [(ok(b"{}"), False) for _ in range(5)]
    async with scripted_server(*answers) as (url, script):
        pool = Pool(url)
        try:
            async with pool.connection() as first, pool.connection() as second:
                assert first is not second
                await asyncio.gather(first.get("/a"), second.get("/b"))
            for path in ("/c", "/d", "/e"):  # one at a time: the idle ones serve them
                async with pool.connection() as connection:
                    await connection.get(path)
        finally:
            await pool.aclose()
    assert pool.size == 2
    assert script.connections == 2
    assert sorted(line for line, _, _ in script.requests) == [f"GET /{p} HTTP/1.1" for p in "abcde"]
