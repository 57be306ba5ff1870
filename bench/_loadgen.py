"""A minimal asyncio HTTP/1.1 client for the benches' load generators.

Why not httpx: a bench that runs the load generator on the same cores as the server measures
the server *minus* whatever the generator burns. ``httpx.AsyncClient`` spends about 1.3 ms of
CPU per request (its pool, header models, URL objects, event hooks, anyio); on a two-core
machine running paydesk, its sandbox and the generator together, that is CPU paydesk lacks, so
the bench under-reports paydesk. This client does only what the load needs, in well under a
tenth of that:

* one persistent keep-alive connection per :class:`Connection` (one per task: no pool, no
  locking), opened on first use with :func:`asyncio.open_connection`;
* a request is the request line, ``Host``, the caller's headers and, for a JSON body,
  ``Content-Type`` and ``Content-Length`` — written in one call;
* the response is a status line, headers and a body delimited by ``Content-Length``, chunked
  transfer coding, or the end of the connection; 1xx interim responses are skipped.

Anything else fails loudly: a server that closes the connection before or during an answer
raises :class:`ConnectionClosed`, one that answers something that is not HTTP/1.x raises
:class:`ProtocolError`, and the connection is dropped either way (its state is unknown). A
request is never retried once sent — the benches' POSTs are not idempotent. The only
reconnection is before sending, when the server had already closed the idle connection (or said
``Connection: close``) — which nothing was sent on, so it is safe.

No TLS, proxies, redirects, cookies, compression or ``Expect``: loopback benches need none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Largest response head (status line and headers) accepted.
MAX_HEAD = 64 * 1024
_NO_BODY = frozenset({204, 304})
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token


class HttpClientError(Exception):
    """The exchange failed; the connection has been closed."""


class ConnectionClosed(HttpClientError):
    """The server closed the connection before its answer was complete."""


class ProtocolError(HttpClientError):
    """The server answered something that is not a well-formed HTTP/1.x response."""


@dataclass(frozen=True, slots=True)
class Response:
    """One answer: status, headers (names lower-cased; repeats joined by ``", "``), body."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.content)


class Connection:
    """One keep-alive HTTP/1.1 connection to ``base_url`` (``http://host[:port]``).

    Not safe for concurrent requests: give each task its own connection.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http://host[:port] URLs are supported, not {base_url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"give the base URL without a path: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        host_header = parts.netloc.rpartition("@")[2]
        self._host_line = f"Host: {host_header}\r\n".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (a later request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # reset by the peer: closed is what we wanted
                await writer.wait_closed()

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """``POST url`` with ``json`` (or the exact bytes ``content``) as its body."""
        return await self.request("POST", url, json=json, content=content, headers=headers)

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> Response:
        """``GET url``."""
        return await self.request("GET", url, headers=headers)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request on this connection and read its whole response.

        ``url`` is the path (and query), e.g. ``/api/v1/orders``. A ``json`` body other than
        ``None`` is sent compact, as ``application/json``; ``content`` is sent byte for byte
        (signed bodies), with whatever ``Content-Type`` the caller's headers name.
        """
        if json is not None and content is not None:
            raise ValueError("give json or content, not both")
        head = self._request_head(method, url, json, content, headers)
        reader, writer = await self._ready()
        try:
            async with asyncio.timeout(self.timeout):
                writer.write(head)
                await writer.drain()
                response, keep = await _read_response(reader, method)
        except BaseException as error:
            await self.aclose()
            where = self._where(method, url)
            if isinstance(error, ConnectionResetError | BrokenPipeError):
                raise ConnectionClosed(f"{where}: {error}") from error
            if isinstance(error, HttpClientError):
                raise type(error)(f"{where}: {error}") from error
            if isinstance(error, TimeoutError):
                raise HttpClientError(f"{where}: no answer within {self.timeout} s") from error
            raise
        if not keep:
            await self.aclose()
        return response

    def _request_head(
        self,
        method: str,
        url: str,
        json: Any,
        content: bytes | None,
        headers: dict[str, str] | None,
    ) -> bytes:
        if not url.startswith("/") or any(c in url for c in " \r\n"):
            raise ValueError(f"request target must be a path without spaces: {url!r}")
        lines = [f"{method} {url} HTTP/1.1\r\n".encode("latin-1"), self._host_line]
        for name, value in (headers or {}).items():
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(f"header {name!r} is not a field name")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} has a line break in its value")
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        body = content or b""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            lines.append(b"Content-Type: application/json\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    async def _ready(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # An idle keep-alive connection the server has since closed shows as EOF already
        # read: nothing was sent on it, so opening a new one cannot duplicate a request.
        if self._reader is not None and self._reader.at_eof():
            await self.aclose()
        if self._reader is None or self._writer is None:
            try:
                async with asyncio.timeout(self.timeout):
                    self._reader, self._writer = await asyncio.open_connection(
                        self.host, self.port, limit=MAX_HEAD
                    )
            except (OSError, TimeoutError) as error:
                where = f"{self.host}:{self.port}"
                raise HttpClientError(f"cannot connect to {where}: {error!r}") from error
        return self._reader, self._writer

    def _where(self, method: str, url: str) -> str:
        return f"{method} http://{self.host}:{self.port}{url}"


class Pool:
    """Connections to one ``base_url`` for a load whose concurrency varies (open loop): a
    request takes an idle connection or opens one, and gives it back when answered.

    >>> pool = Pool("http://127.0.0.1:8000")
    >>> pool.size
    0
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._idle: list[Connection] = []
        self._all: list[Connection] = []

    @property
    def size(self) -> int:
        """How many connections the pool has made."""
        return len(self._all)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of its own for one request."""
        if self._idle:
            connection = self._idle.pop()
        else:
            connection = Connection(self.base_url, timeout=self.timeout)
            self._all.append(connection)
        try:
            yield connection
        finally:
            self._idle.append(connection)

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in self._all:
            await connection.aclose()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[Response, bool]:
    """The next final response on ``reader``, and whether the connection may be reused."""
    while True:
        status, version, headers = _parse_head(await _read_head(reader))
        if not 100 <= status < 200:
            break
    keep = version == "HTTP/1.1"
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if "close" in tokens:
        keep = False
    elif "keep-alive" in tokens:
        keep = True
    if method == "HEAD" or status in _NO_BODY:
        return Response(status, headers, b""), keep
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise ProtocolError(f"unsupported Transfer-Encoding {coding!r}")
        return Response(status, headers, await _read_chunked(reader)), keep
    length = headers.get("content-length")
    if length is not None:
        if not (length.isascii() and length.isdigit()):
            raise ProtocolError(f"bad Content-Length {length!r}")
        return Response(status, headers, await _read_exactly(reader, int(length))), keep
    # Neither: the body runs to the end of the connection (RFC 9112 §6.3).
    return Response(status, headers, await reader.read()), False


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        where = "before answering" if not error.partial else "in the middle of the headers"
        raise ConnectionClosed(f"server closed the connection {where}") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"response head longer than {MAX_HEAD} bytes") from None


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Status code, HTTP version and headers of a response head ending in a blank line."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise ProtocolError("undecodable response head") from None
    status_line, *lines = text[:-4].split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if (
        version not in ("HTTP/1.1", "HTTP/1.0")
        or not (code.isascii() and code.isdigit())
        or rest[3:4] not in ("", " ")
    ):
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        key, value = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return int(code), version, headers


async def _read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as error:
        raise ConnectionClosed(
            f"server closed the connection after {len(error.partial)} of {size} body bytes"
        ) from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body (RFC 9112 §7.1); trailer fields are read and dropped."""
    parts: list[bytes] = []
    while True:
        size_line = await _read_line(reader)
        size_text = size_line.partition(b";")[0].rstrip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise ProtocolError(f"bad chunk size line {size_line[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            while await _read_line(reader):
                pass
            return b"".join(parts)
        parts.append(await _read_exactly(reader, size))
        if await _read_exactly(reader, 2) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """One CRLF-terminated line, without its CRLF."""
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError:
        raise ConnectionClosed("server closed the connection inside a chunked body") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError("chunk size line too long") from None
    return line[:-2]
