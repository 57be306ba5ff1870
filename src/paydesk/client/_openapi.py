"""Calls to the open APIs of api.weixin.qq.com: JSON answers, errors as ``errcode``/``errmsg``.

Login, access tokens, OAuth and customer-service messages all answer HTTP 200 with either
the result or ``{"errcode": …, "errmsg": "…, rid: …"}`` (PROTOCOL.md §4). :class:`OpenApi`
sends the request, reads that answer once and maps errors into the client's tree.

>>> response = httpx.Response(200, content=b'{"errcode":0,"errmsg":"ok"}')
>>> read_answer(response)
{'errcode': 0, 'errmsg': 'ok'}
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx

from paydesk.client._mapping import errcode_error, status_error_class
from paydesk.client._transport import USER_AGENT, Boundary, Sleep, with_retries
from paydesk.client.config import Endpoints
from paydesk.client.errors import UnexpectedResponse

__all__ = ["OpenApi", "read_answer", "required_text"]


def read_answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an open-API answer, or the mapped error.

    A non-200 status maps by status; a non-zero ``errcode`` by errcode; anything that is not
    a JSON object is an :class:`UnexpectedResponse`.
    """
    body = response.content
    if response.status_code != 200:
        cls = status_error_class(response.status_code)
        message = body[:200].decode("utf-8", "replace") or f"HTTP {response.status_code}"
        raise cls(
            message, status=response.status_code, code=f"HTTP_{response.status_code}", body=body
        )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnexpectedResponse("answer is not JSON", status=200, body=body) from exc
    if not isinstance(payload, dict):
        raise UnexpectedResponse("answer is not a JSON object", status=200, body=body)
    errcode = payload.get("errcode", 0)
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        raise UnexpectedResponse(f"errcode {errcode!r} is not a number", status=200, body=body)
    if errcode != 0:
        raise errcode_error(payload, 200, body)
    return payload


def required_text(payload: Mapping[str, Any], name: str) -> str:
    """``payload[name]`` as a non-empty string, or :class:`UnexpectedResponse`.

    >>> required_text({"openid": "o1"}, "openid")
    'o1'
    """
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise UnexpectedResponse(f"answer has no {name}")
    return value


class OpenApi:
    """One sender for every api.weixin.qq.com call, sharing the deadline and retry policy."""

    def __init__(
        self,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.endpoints = endpoints
        self.http = http
        self.boundary = Boundary(http, timeout=timeout)
        self.retries = retries
        self.sleep = sleep

    async def get(
        self, path: str, params: Mapping[str, str], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """``GET path?params``; ``idempotent=False`` for calls that spend a one-time code."""
        return await self._call("GET", path, params, None, idempotent=idempotent)

    async def post(
        self,
        path: str,
        params: Mapping[str, str],
        body: Mapping[str, Any],
        *,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """``POST path?params`` with a JSON body (UTF-8, not ASCII-escaped: WeChat shows
        ``\\uXXXX`` escapes literally in messages)."""
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return await self._call("POST", path, params, content, idempotent=idempotent)

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        content: bytes | None,
        *,
        idempotent: bool,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if content is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"

        async def attempt() -> dict[str, Any]:
            request = self.http.build_request(
                method,
                self.endpoints.api_url(path),
                params=params,
                content=content,
                headers=headers,
            )
            return read_answer(await self.boundary.send(request))

        return await with_retries(
            attempt, retries=self.retries, sleep=self.sleep, retry_upstream=idempotent
        )
