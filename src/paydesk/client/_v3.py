"""Pay v3 on the wire for one merchant: build → sign → send → verify (PROTOCOL.md §1.2–§1.5).

- **build**: the body is serialised once, by the caller, and those exact bytes are sent;
- **sign**: ``Authorization`` over WeChat's path and query *as httpx will send them* (read
  back from the built request, minus the base URL's own path prefix), re-signed with a fresh
  timestamp and nonce on every attempt;
- **send**: through :class:`~paydesk.client._transport.Boundary`, retried only when safe;
- **verify**: every 2xx with :func:`~paydesk.protocol.v3.verify.verify_signed` and the
  merchant's keys before anything reads it. A platform-certificate serial we do not know
  triggers one download of ``/v3/certificates`` (as the official SDKs do), then a second try.

:meth:`V3Channel.platform_key` names the key a sensitive field is encrypted with for WeChat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import BaseModel

from paydesk.client._mapping import request_id_of, v3_error
from paydesk.client._transport import USER_AGENT, Boundary, Sleep, with_retries
from paydesk.client.config import Clock, Endpoints, MerchantAccount, NonceSource
from paydesk.client.errors import ResponseNotVerified, UnexpectedResponse, WeChatError
from paydesk.protocol.errors import KeyFormatError, MalformedInput, ProtocolError, UnknownSerial
from paydesk.protocol.keys import certificate_public_key, is_public_key_id
from paydesk.protocol.v3.certificates import PlatformCertificate, decrypt_certificates
from paydesk.protocol.v3.endpoints import CERTIFICATES
from paydesk.protocol.v3.models import parse_json
from paydesk.protocol.v3.signing import build_authorization
from paydesk.protocol.v3.verify import KeySet, verify_signed

__all__ = ["V3Channel", "parse_body"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_body(model: type[ModelT], response: httpx.Response) -> ModelT:
    """Read a *verified* body into ``model``; a body of the wrong shape is unexpected."""
    try:
        return parse_json(model, response.content)
    except MalformedInput as exc:
        raise UnexpectedResponse(
            f"{response.request.url.path}: {exc.reason}",
            status=response.status_code,
            request_id=request_id_of(response.headers),
            body=response.content,
        ) from exc


class V3Channel:
    """Signed, verified Pay v3 requests for one merchant; holds the merchant's current keys."""

    def __init__(
        self,
        account: MerchantAccount,
        *,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        clock: Clock,
        nonce: NonceSource,
        retries: int,
        timeout: float,
        sleep: Sleep,
    ) -> None:
        self.account = account
        self.endpoints = endpoints
        self.http = http
        self.clock = clock
        self.nonce = nonce
        self.retries = retries
        self.sleep = sleep
        #: WeChat Pay's keys for this merchant; grows when new platform certificates appear.
        self.keys: KeySet = account.verify_keys
        #: The platform certificates of the last ``/v3/certificates`` download (certificate mode).
        self.certificates: tuple[PlatformCertificate, ...] = ()
        self._boundary = Boundary(http, timeout=timeout)
        self._base = endpoints.pay_base_url.rstrip("/")
        self._prefix = httpx.URL(self._base).raw_path.rstrip(b"/")
        self._keys_lock = asyncio.Lock()

    async def call(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        verify: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send ``body`` to WeChat's ``path`` (with query); return the verified 2xx answer.

        Non-2xx answers raise their mapped error; ``verify=False`` is only for answers WeChat
        does not sign (bill files) or that need the keys they carry (certificates).
        ``headers`` are added to (or replace) the usual ones on every attempt.
        """

        async def attempt() -> httpx.Response:
            response = await self._boundary.send(self.build(method, path, body, headers))
            if not response.is_success:
                raise v3_error(
                    response.status_code, response.content, request_id_of(response.headers)
                )
            if verify:
                await self.verify(response)
            return response

        return await with_retries(attempt, retries=self.retries, sleep=self.sleep)

    def build(
        self, method: str, path: str, body: bytes, extra: Mapping[str, str] | None = None
    ) -> httpx.Request:
        """The signed request; what is signed is read back from what will be sent.

        ``extra`` headers are added to (or replace) the usual ones.
        """
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body:
            headers["Content-Type"] = "application/json"
        if self.account.public_key_id is not None:
            # Public-key mode: name the key WeChat should answer with (PROTOCOL.md §1.5).
            headers["Wechatpay-Serial"] = self.account.public_key_id
        if extra:
            headers.update(extra)
        request = self.http.build_request(
            method, self._base + path, content=body or None, headers=headers
        )
        request.headers["Authorization"] = build_authorization(
            mchid=self.account.mchid,
            serial_no=self.account.serial_no,
            private_key=self.account.private_key,
            method=method,
            url=self.signed_url(request.url),
            body=body,
            timestamp=self.clock(),
            nonce=self.nonce(),
        )
        return request

    def signed_url(self, url: httpx.URL) -> str:
        """WeChat's path and query of ``url``: the raw request target minus our base's prefix."""
        raw = url.raw_path
        if self._prefix and raw.startswith(self._prefix + b"/"):
            raw = raw[len(self._prefix) :]
        return raw.decode("ascii")

    def wechat_path(self, absolute_url: str) -> str:
        """The WeChat path of a URL WeChat handed us (a bill's ``download_url``).

        It is always fetched from *our* configured host, never from wherever the URL points.
        """
        if absolute_url.startswith(self._base + "/"):
            return absolute_url[len(self._base) :]
        return httpx.URL(absolute_url).raw_path.decode("ascii")

    async def verify(self, response: httpx.Response) -> None:
        """Check the ``Wechatpay-*`` signature of a 2xx answer; :class:`ResponseNotVerified`."""
        try:
            try:
                self._check(response, self.keys)
            except UnknownSerial as exc:
                if exc.serial is None or is_public_key_id(exc.serial):
                    raise
                await self._learn(exc.serial, response)
                self._check(response, self.keys)
        except ProtocolError as exc:
            raise self._not_verified(response, exc) from exc

    async def download_certificates(self) -> list[PlatformCertificate]:
        """``GET /v3/certificates``, decrypted with the APIv3 key and verified with the keys
        we hold plus the ones it carries (the AEAD tag already proves who wrote them)."""
        response = await self.call("GET", CERTIFICATES.path(), verify=False)
        try:
            certificates = decrypt_certificates(response.content, self.account.apiv3_key)
            carried = KeySet.from_certificates(c.certificate for c in certificates)
            keys = KeySet.merge(self.keys, carried)
            self._check(response, keys)
        except ProtocolError as exc:
            raise self._not_verified(response, exc) from exc
        self.keys = keys
        self.certificates = tuple(certificates)
        return certificates

    async def platform_key(self) -> tuple[str, RSAPublicKey]:
        """WeChat Pay's key to encrypt sensitive fields with, and the id that names it in
        the request's ``Wechatpay-Serial``.

        Public-key mode: the configured public key and its ``PUB_KEY_ID_…``. Certificate
        mode: the newest platform certificate — of those already in effect by our clock, the
        one that expires last — downloading ``/v3/certificates`` first if none is known yet
        (configured certificate keys carry no validity dates to choose by).
        """
        key_id = self.account.public_key_id
        if key_id is not None:
            try:
                return key_id, self.keys.key_for(key_id)
            except UnknownSerial as exc:
                raise KeyFormatError(f"verify_keys hold no key for {key_id}") from exc
        async with self._keys_lock:
            if not self.certificates:
                await self.download_certificates()
        if not self.certificates:
            raise UnexpectedResponse("/v3/certificates lists no platform certificate")
        now = datetime.fromtimestamp(self.clock(), UTC)
        in_effect = [c for c in self.certificates if c.effective_time <= now]
        newest = max(in_effect or self.certificates, key=lambda c: c.expire_time)
        return newest.serial_no, certificate_public_key(newest.certificate)

    async def _learn(self, serial: str, response: httpx.Response) -> None:
        async with self._keys_lock:
            if serial in self.keys.serials:
                return  # another task downloaded them while we waited
            try:
                await self.download_certificates()
            except WeChatError as exc:
                raise ResponseNotVerified(
                    f"unknown Wechatpay-Serial {serial}; certificate download failed: {exc}",
                    status=response.status_code,
                    request_id=request_id_of(response.headers),
                    body=response.content,
                ) from exc

    def _check(self, response: httpx.Response, keys: KeySet) -> None:
        verify_signed(response.headers, response.content, keys, now=self.clock())

    def _not_verified(self, response: httpx.Response, exc: ProtocolError) -> ResponseNotVerified:
        return ResponseNotVerified(
            f"{response.request.url.path}: {exc.reason}",
            status=response.status_code,
            request_id=request_id_of(response.headers),
            body=response.content,
        )
