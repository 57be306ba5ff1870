"""The open-API sender: answers read once, errcodes mapped, retries only where safe."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from paydesk.client import errors
from paydesk.client._openapi import OpenApi, read_answer, required_text
from paydesk.client.config import Endpoints
from tests.client.doubles import Upstream

Sleep = Callable[[float], Awaitable[None]]


@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (httpx.Response(500, content=b"busy"), errors.UpstreamUnavailable),
        (httpx.Response(404, content=b""), errors.NotFound),
        (httpx.Response(200, content=b"<html>"), errors.UnexpectedResponse),
        (httpx.Response(200, content=b"\xff\xfe"), errors.UnexpectedResponse),
        (httpx.Response(200, content=b"[]"), errors.UnexpectedResponse),
        (httpx.Response(200, content=b'{"errcode":"40001"}'), errors.UnexpectedResponse),
        (httpx.Response(200, content=b'{"errcode":true}'), errors.UnexpectedResponse),
        (
            httpx.Response(200, content=b'{"errcode":40003,"errmsg":"invalid openid"}'),
            errors.ApiError,
        ),
    ],
)
def test_bad_answers(response: httpx.Response, cls: type[errors.WeChatError]) -> None:
    with pytest.raises(cls) as caught:
        read_answer(response)
    assert type(caught.value) is cls
    assert caught.value.status == response.status_code


def test_a_status_error_keeps_the_text() -> None:
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        read_answer(httpx.Response(503, content=b""))
    assert (caught.value.message, caught.value.code) == ("HTTP 503", "HTTP_503")


@pytest.mark.parametrize("body", [b'{"errcode":0,"errmsg":"ok"}', b'{"openid":"o1"}'])
def test_good_answers(body: bytes) -> None:
    assert read_answer(httpx.Response(200, content=body)) == json.loads(body)


@pytest.mark.parametrize("payload", [{}, {"openid": ""}, {"openid": 1}])
def test_required_text(payload: dict[str, object]) -> None:
    with pytest.raises(errors.UnexpectedResponse, match="no openid"):
        required_text(payload, "openid")


def api(upstream: Upstream, sleep: Sleep) -> OpenApi:
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    return OpenApi(Endpoints.sandbox("http://sandbox.test/sb"), http, sleep=sleep)


async def test_get_sends_params_and_user_agent(sleep: Sleep) -> None:
    upstream = Upstream(httpx.Response(200, json={"openid": "o1"}))
    answer = await api(upstream, sleep).get("/sns/x", {"appid": "wx1", "code": "a b"})
    assert answer == {"openid": "o1"}
    [request] = upstream.requests
    assert str(request.url) == "http://sandbox.test/sb/sns/x?appid=wx1&code=a+b"
    assert request.headers["User-Agent"].startswith("paydesk/")
    assert "Content-Type" not in request.headers


async def test_post_sends_utf8_json_not_ascii_escapes(sleep: Sleep) -> None:
    upstream = Upstream(httpx.Response(200, json={"errcode": 0, "errmsg": "ok"}))
    await api(upstream, sleep).post(
        "/cgi-bin/x", {"access_token": "T"}, {"text": {"content": "你好"}}
    )
    [request] = upstream.requests
    assert request.content == '{"text":{"content":"你好"}}'.encode()
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.url.params["access_token"] == "T"


async def test_a_connect_error_is_retried_even_when_not_idempotent(
    sleep: Sleep, sleeps: list[float]
) -> None:
    upstream = Upstream(httpx.ConnectError("refused"), httpx.Response(200, json={"ok": 1}))
    assert await api(upstream, sleep).get("/sns/x", {}, idempotent=False) == {"ok": 1}
    assert len(upstream.requests) == 2
    assert sleeps == [0.1]


@pytest.mark.parametrize(("idempotent", "attempts"), [(True, 2), (False, 1)])
async def test_a_5xx_is_retried_only_when_idempotent(
    sleep: Sleep, idempotent: bool, attempts: int
) -> None:
    upstream = Upstream(httpx.Response(502), httpx.Response(200, json={"ok": 1}))
    call = api(upstream, sleep).get("/sns/x", {}, idempotent=idempotent)
    if idempotent:
        assert await call == {"ok": 1}
    else:
        with pytest.raises(errors.UpstreamUnavailable):
            await call
    assert len(upstream.requests) == attempts
