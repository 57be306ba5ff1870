"""Credentials stay out of httpx's and aiosqlite's log records, at every level."""

from __future__ import annotations

import functools
import logging

import httpx
import pytest

from paydesk.domain.logsafety import guard_library_logs, mask_credentials


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "GET https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=c",
            "GET https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=***&js_code=***",
        ),
        (
            'POST /cgi-bin/message/custom/send?ACCESS_TOKEN=t0k3n "HTTP/1.1 200 OK"',
            'POST /cgi-bin/message/custom/send?ACCESS_TOKEN=*** "HTTP/1.1 200 OK"',
        ),
        (
            "/sns/oauth2/access_token?appid=wx1&secret=s&code=c#frag",
            "/sns/oauth2/access_token?appid=wx1&secret=***&code=***#frag",
        ),
        (
            "/v3/pay/transactions/id/4200?mchid=1900000001",
            "/v3/pay/transactions/id/4200?mchid=1900000001",
        ),
        ("a secret= outside a query stays", "a secret= outside a query stays"),
    ],
)
def test_credentials_in_query_strings_are_masked(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


def test_an_httpx_request_line_is_logged_without_the_app_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard_library_logs()
    url = httpx.URL(
        "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=c"
    )
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s %d %s"', "GET", url, "HTTP/1.1", 200, "OK"
        )
        logging.getLogger("httpx").info("HTTP Request: %s %s", "GET", "https://x/v3/certificates")
    first, second = (record.getMessage() for record in caplog.records)
    assert "s3cr3t" not in first
    assert "secret=***" in first
    assert second == "HTTP Request: GET https://x/v3/certificates"


def test_aiosqlite_statements_are_logged_without_their_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard_library_logs()

    def execute(sql: str, parameters: tuple[str, ...]) -> None:
        return None

    statement = "INSERT INTO user_sessions (session_key) VALUES (?)"
    call = functools.partial(execute, statement, ("the-session-key",))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("aiosqlite").debug("executing %s on %s", call, "connection 1")
        logging.getLogger("aiosqlite").debug("operation %s completed", functools.partial(print))
        logging.getLogger("aiosqlite").debug("returning exception %s", "UNIQUE constraint failed")
    executing, completed, failed = (record.getMessage() for record in caplog.records)
    assert "the-session-key" not in executing
    assert executing == (
        f"executing execute({statement!r}, <parameters not logged>) on connection 1"
    )
    assert completed == "operation print(<arguments not logged>) completed"
    assert failed == "returning exception UNIQUE constraint failed"


def test_installing_twice_installs_once() -> None:
    guard_library_logs()
    before = [list(logging.getLogger(name).filters) for name in ("httpx", "aiosqlite")]
    guard_library_logs()
    after = [list(logging.getLogger(name).filters) for name in ("httpx", "aiosqlite")]
    assert before == after
