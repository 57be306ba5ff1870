"""Test doubles and constants for the client tests: a scripted WeChat Pay v3 behind
``httpx.MockTransport`` that checks every request's ``Authorization`` as WeChat does and
answers with signed (or deliberately broken) responses.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.client.config import MerchantAccount
from paydesk.protocol.errors import ProtocolError
from paydesk.protocol.keys import load_private_key, load_public_key
from paydesk.protocol.v3.signing import verify_authorization
from paydesk.protocol.v3.verify import KeySet, sign_response
from paydesk.sandbox.credentials import MerchantCredentials

#: The fixed "now" of every unit test (unix seconds).
NOW = 1_700_000_000
PUBLIC_KEY_ID = "PUB_KEY_ID_0000000000000024101100397200000006"
MERCHANT_SERIAL = "5F1C72E26CC3F1A36F2B1E0C9D7A8B4E3F201D11"
APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"
V2_KEY = "192006250b4c09247ec02edce69f6a2d"
#: A base URL with a path prefix, as when the sandbox is mounted at /sandbox.
BASE = "https://pay.test/sandbox"


Answer = httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Seen:
    """One request as the double received it."""

    method: str
    raw_path: str
    body: bytes
    headers: httpx.Headers
    auth_error: ProtocolError | None


@dataclass
class PayDouble:
    """WeChat Pay v3 for MockTransport: verify the merchant's signature, then play the script.

    ``script`` holds the answers in order (a response, an exception to raise, or an async
    function of the request); once it is empty every request gets ``default``.
    """

    merchant_key: RSAPrivateKey
    platform_key: RSAPrivateKey
    serial: str
    prefix: str = "/sandbox"
    script: list[Answer] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    default: Answer | None = None
    now: int = NOW
    _nonces: itertools.count[int] = field(default_factory=itertools.count)

    def signed(
        self,
        body: bytes | dict[str, Any] | list[Any] = b"",
        status: int = 200,
        *,
        serial: str | None = None,
        timestamp: int | None = None,
        tamper: bool = False,
    ) -> httpx.Response:
        """A response signed as WeChat Pay signs it (``tamper`` flips the body afterwards)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = sign_response(
            self.platform_key,
            serial=serial or self.serial,
            timestamp=self.now if timestamp is None else timestamp,
            nonce=f"SRV{next(self._nonces)}",
            body=raw,
        )
        headers["Request-ID"] = "08F0A1B2C3D4E5F6-268443699"
        if tamper:
            raw = raw.replace(b"1", b"2") if b"1" in raw else raw + b" "
        return httpx.Response(status, content=raw, headers=headers)

    @staticmethod
    def error(status: int, code: str, message: str = "msg", **extra: Any) -> httpx.Response:
        """WeChat's error answer: JSON body, no Wechatpay-* headers."""
        body = {"code": code, "message": message, **extra}
        return httpx.Response(status, json=body, headers={"Request-ID": f"REQ-{status}"})

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        raw_path = request.url.raw_path.decode()
        wechat_path = raw_path.removeprefix(self.prefix)
        auth_error: ProtocolError | None = None
        try:
            verify_authorization(
                request.headers.get("Authorization", ""),
                method=request.method,
                url=wechat_path,
                body=body,
                public_key=self.merchant_key.public_key(),
                now=self.now,
            )
        except ProtocolError as exc:
            auth_error = exc
        self.seen.append(Seen(request.method, raw_path, body, request.headers, auth_error))
        answer: Answer | None = self.script.pop(0) if self.script else self.default
        if answer is None:
            raise AssertionError(f"unscripted request {request.method} {raw_path}")
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return await answer(request)


class Upstream:
    """api.weixin.qq.com for MockTransport: answers from a script, records each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def merchant_account(creds: MerchantCredentials, sign_type: str = "MD5") -> MerchantAccount:
    """What the service would build from its settings; certificate mode starts with no
    platform certificate, so the client must fetch it."""
    keys, key_id = KeySet({}), None
    if creds.mode == "public_key":
        assert creds.platform_public_key_id is not None
        assert creds.platform_public_key_pem is not None
        key_id = creds.platform_public_key_id
        keys = KeySet.from_public_key(key_id, load_public_key(creds.platform_public_key_pem))
    return MerchantAccount(
        mchid=creds.mchid,
        serial_no=creds.merchant_serial_no,
        private_key=load_private_key(creds.merchant_private_key_pem),
        apiv3_key=creds.apiv3_key,
        verify_keys=keys,
        public_key_id=key_id,
        v2_key=creds.v2_key,
        v2_sign_type=sign_type,  # type: ignore[arg-type]
    )
