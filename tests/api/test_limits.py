"""Every route refuses what is too big or malformed with a precise 4xx, never a 5xx.

The routes are walked from ``app.routes`` (the OpenAPI document leaves the cashier's pages out),
so a route added tomorrow is checked by these tests the day it is added. Each test sends the
same abuse to every route and lists every route that answered wrongly.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from paydesk.api.middleware import MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_BYTES
from tests.domain.users.support import LoggedIn, log_in
from tests.stack import Stack

#: A 401 with one of these is about the caller, not about what the path names.
CALLER_CREDENTIAL_CODES = frozenset({"missing_credentials", "invalid_api_key", "invalid_session"})
_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, as the app serves it."""

    method: str
    path: str
    route: Any

    @property
    def parameters(self) -> list[str]:
        """The path parameters' names."""
        return _PARAMETER.findall(self.path)

    @property
    def parses_json(self) -> bool:
        """FastAPI parses the body as JSON (a body parameter), rather than the route reading
        raw bytes itself (the signed WeChat notifications and pushes)."""
        return isinstance(self.route, APIRoute) and self.route.body_field is not None

    def url(self, value: str = "x") -> str:
        """The path with every parameter set to ``value``."""
        return _PARAMETER.sub(value.replace("\\", "\\\\"), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every route in ``app`` (HEAD is GET's twin)."""
    found = [
        Endpoint(method, context.path, context.original_route)
        for context in iter_route_contexts(app.routes)
        if context.path is not None
        for method in sorted((context.methods or set()) - {"HEAD"})
    ]
    assert len(found) >= 25, f"walking app.routes found only {[str(e) for e in found]}"
    return found


@dataclass
class Caller:
    """Sends a request as whoever gets furthest: the merchant, then the user."""

    stack: Stack
    user: LoggedIn

    async def send(self, endpoint: Endpoint, url: str | None = None, **options: Any) -> Any:
        """The first answer that is not a 401, or the user's 401."""
        response: httpx.Response | None = None
        for credentials in (self.stack.merchant_headers, self.user.headers):
            headers = {**credentials, **options.pop("headers", {})}
            response = await self.stack.api.request(
                endpoint.method, url or endpoint.url(), headers=headers, **options
            )
            if response.status_code != 401:
                break
            options["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
        assert response is not None
        return response


@pytest.fixture
async def caller(stack: Stack) -> Caller:
    return Caller(stack, await log_in(stack))


def error_code(response: httpx.Response) -> str | None:
    """The ``error.code`` of an answer in the API's error shape (None if it is not)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("request_id"), str):
        return None
    code = error.get("code")
    return code if isinstance(code, str) and isinstance(error.get("message"), str) else None


async def problems_over_every_route(
    caller: Caller,
    chosen: Callable[[Endpoint], bool],
    send: Callable[[Endpoint], Any],
    expect: Callable[[Endpoint, httpx.Response], bool],
) -> list[str]:
    """Send to every ``chosen`` endpoint; each answer that ``expect`` refuses, described."""
    problems = []
    chosen_endpoints = [e for e in endpoints(caller.stack.app) if chosen(e)]
    assert chosen_endpoints, "no endpoint to check"
    for endpoint in chosen_endpoints:
        response = await send(endpoint)
        if not expect(endpoint, response):
            problems.append(f"{endpoint}: {response.status_code} {response.text[:200]}")
    return problems


def everything(endpoint: Endpoint) -> bool:
    return True


def refused_with(status: int, code: str) -> Callable[[Endpoint, httpx.Response], bool]:
    def expect(endpoint: Endpoint, response: httpx.Response) -> bool:
        return response.status_code == status and error_code(response) == code

    return expect


def limit(caller: Caller) -> int:
    return caller.stack.services.settings.max_body_bytes


# --- body size ---------------------------------------------------------------------------------


async def test_a_body_declared_too_large_is_413_on_every_route(caller: Caller) -> None:
    oversized = b"{" * (limit(caller) + 1)
    problems = await problems_over_every_route(
        caller,
        everything,
        lambda e: caller.send(e, content=oversized),
        refused_with(413, "body_too_large"),
    )
    assert not problems, "\n".join(problems)


async def test_a_body_streamed_past_the_limit_is_413_on_every_route(caller: Caller) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(limit(caller) // 1024 + 2):
            yield b"x" * 1024

    problems = await problems_over_every_route(
        caller,
        everything,
        lambda e: caller.send(e, content=chunks(), headers={"Content-Type": "application/json"}),
        refused_with(413, "body_too_large"),
    )
    assert not problems, "\n".join(problems)


async def test_ten_megabytes_are_refused_before_they_are_read(stack: Stack) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(10 * 1024):
            sent += 1024
            yield b"<" * 1024

    response = await stack.api.post("/api/v1/notify/wechatpay/v2/1900000002", content=chunks())
    assert response.status_code == 413
    assert error_code(response) == "body_too_large"
    assert sent <= stack.services.settings.max_body_bytes + 2 * 1024


# --- malformed bodies --------------------------------------------------------------------------


async def test_malformed_json_is_a_400_naming_the_problem(caller: Caller) -> None:
    def precise(endpoint: Endpoint, response: httpx.Response) -> bool:
        if not endpoint.parses_json:  # signed bytes: verified before anything is parsed
            return 400 <= response.status_code < 500
        message = response.json()["error"]["message"] if error_code(response) else ""
        return (
            response.status_code == 400
            and error_code(response) == "invalid_request"
            and message.startswith("body: not valid JSON: Expecting")
        )

    problems = await problems_over_every_route(
        caller,
        lambda e: e.method == "POST",
        lambda e: caller.send(
            e, content=b'{"amount": ', headers={"Content-Type": "application/json"}
        ),
        precise,
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"a string"',
        b"null",
        b"1e999",
        b"[" * 30_000 + b"]" * 30_000,  # deeper than Python's recursion limit
        b'{"a": "\xff\xfe"}',  # not UTF-8
        b"\xff\xfe{\x00}\x00",  # a UTF-16 BOM and garbage
    ],
    ids=["array", "string", "null", "huge-number", "deep", "not-utf8", "utf16-bom"],
)
async def test_json_that_is_not_an_acceptable_object_is_a_4xx(caller: Caller, body: bytes) -> None:
    def refused(endpoint: Endpoint, response: httpx.Response) -> bool:
        if not endpoint.parses_json:
            return 400 <= response.status_code < 500
        return response.status_code == 400 and error_code(response) == "invalid_request"

    problems = await problems_over_every_route(
        caller,
        lambda e: e.method == "POST",
        lambda e: caller.send(e, content=body, headers={"Content-Type": "application/json"}),
        refused,
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"channel": "miniprogram"}'),
        ("application/x-www-form-urlencoded", b"channel=miniprogram&amount=1"),
        ("application/xml", b"<xml><channel>miniprogram</channel></xml>"),
    ],
)
async def test_a_body_that_is_not_json_is_415_where_json_is_expected(
    caller: Caller, content_type: str, body: bytes
) -> None:
    def unsupported(endpoint: Endpoint, response: httpx.Response) -> bool:
        if response.status_code != 415 or error_code(response) != "unsupported_media_type":
            return False
        return content_type in response.json()["error"]["message"]

    problems = await problems_over_every_route(
        caller,
        lambda e: e.parses_json,
        lambda e: caller.send(e, content=body, headers={"Content-Type": content_type}),
        unsupported,
    )
    assert not problems, "\n".join(problems)


# --- URL and headers ---------------------------------------------------------------------------


async def test_a_huge_query_string_is_414_on_every_route(caller: Caller) -> None:
    problems = await problems_over_every_route(
        caller,
        everything,
        lambda e: caller.send(e, params={"q": "x" * MAX_URL_BYTES}),
        refused_with(414, "uri_too_long"),
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Padding": "x" * MAX_HEADER_BYTES},
        {f"X-Many-{n}": "1" for n in range(MAX_HEADERS + 1)},
    ],
    ids=["one-huge-header", "too-many-headers"],
)
async def test_huge_or_countless_headers_are_431_on_every_route(
    caller: Caller, headers: dict[str, str]
) -> None:
    problems = await problems_over_every_route(
        caller,
        everything,
        lambda e: caller.send(e, headers=headers),
        refused_with(431, "headers_too_large"),
    )
    assert not problems, "\n".join(problems)


# --- path parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["x" * 5000, "%FF%FE%00%0D%0A", "..%2F..%2Fetc%2Fpasswd", "%F0%9F%92%B3" * 40, "%25"],
    ids=["5000-chars", "not-utf8-and-crlf", "traversal", "emoji", "percent"],
)
async def test_absurd_path_parameters_are_a_400_or_404(caller: Caller, value: str) -> None:
    def not_found_or_invalid(endpoint: Endpoint, response: httpx.Response) -> bool:
        if response.status_code == 401:  # only when the path itself is a credential (a ticket)
            return error_code(response) not in CALLER_CREDENTIAL_CODES
        return response.status_code in (400, 404)

    problems = await problems_over_every_route(
        caller,
        lambda e: bool(e.parameters),
        lambda e: caller.send(e, url=e.url(value)),
        not_found_or_invalid,
    )
    assert not problems, "\n".join(problems)


async def test_a_path_parameter_longer_than_a_url_may_be_is_414(caller: Caller) -> None:
    problems = await problems_over_every_route(
        caller,
        lambda e: bool(e.parameters),
        lambda e: caller.send(e, url=e.url("x" * MAX_URL_BYTES)),
        refused_with(414, "uri_too_long"),
    )
    assert not problems, "\n".join(problems)


async def test_unknown_routes_and_methods_answer_in_the_error_shape(stack: Stack) -> None:
    missing = await stack.api.get("/api/v1/nothing-here")
    assert (missing.status_code, error_code(missing)) == (404, "not_found")
    wrong_method = await stack.api.delete("/api/v1/orders", headers=stack.merchant_headers)
    assert (wrong_method.status_code, error_code(wrong_method)) == (405, "method_not_allowed")
