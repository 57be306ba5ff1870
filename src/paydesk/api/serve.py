"""The app ``paydesk serve`` runs: the embedded default, or production from a config file.

Embedded (no ``PAYDESK_CONFIG_FILE``): SQLite in the data directory, the sandbox mounted at
``/sandbox`` with keys made on the first start in ``<data_dir>/sandbox``, its merchants and
apps as paydesk's configuration, and ``{public_url}/sandbox`` as WeChat. Both directions go
in-process through ``httpx.ASGITransport`` to the app itself — paydesk's calls to WeChat and
the sandbox's notifications — while the URLs the sandbox hands out stay ones a browser can
reach. With a config file: the merchants and apps of the file, the real WeChat hosts, and no
sandbox unless ``PAYDESK_SANDBOX=true``::

    runtime = build_runtime(serve_settings("127.0.0.1", 8000))
    first_key = await runtime.prepare()     # migrate; an API key on the very first start
    uvicorn.run(runtime.app, host="127.0.0.1", port=8000)

Background work (the in-process worker of issue 5) plugs in through ``background``: each job
is started with the app and cancelled when it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from paydesk.api.app import create_app
from paydesk.api.embedded import config_from_sandbox
from paydesk.client import Endpoints
from paydesk.db.migrate import upgrade_async
from paydesk.db.models import ApiKey
from paydesk.domain import apikeys
from paydesk.domain.clock import Clock
from paydesk.domain.context import Services, build_services
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.settings import PaydeskConfig, Settings, load_settings_and_config

__all__ = [
    "SANDBOX_PATH",
    "BackgroundJob",
    "Runtime",
    "SelfTransport",
    "ServeConfigError",
    "build_runtime",
    "public_url_for",
    "serve_settings",
]

#: Where the sandbox is mounted inside the app.
SANDBOX_PATH = "/sandbox"
#: The name of the API key made on the very first start.
FIRST_KEY_NAME = "first start"

#: A coroutine run beside the app for its whole life (e.g. the in-process worker).
BackgroundJob = Callable[[Services], Coroutine[Any, Any, None]]


class ServeConfigError(ValueError):
    """The settings cannot make a runnable app; the message says what to change.

    >>> str(ServeConfigError("set PAYDESK_CONFIG_FILE"))
    'set PAYDESK_CONFIG_FILE'
    """


def public_url_for(host: str, port: int) -> str:
    """The URL a browser on this machine uses for ``host:port`` (any-address → loopback).

    >>> public_url_for("0.0.0.0", 8000), public_url_for("::1", 80)
    ('http://127.0.0.1:8000', 'http://[::1]:80')
    """
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve_settings(host: str, port: int, settings: Settings | None = None) -> Settings:
    """Settings from the environment; ``public_url`` follows host and port unless it is set.

    >>> serve_settings("127.0.0.1", 9000, Settings()).public_url
    'http://127.0.0.1:9000'
    """
    settings = settings or Settings()
    if "public_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"public_url": public_url_for(host, port)})


class SelfTransport(httpx.AsyncBaseTransport):
    """Requests to the app itself, in-process (set :attr:`app` once it exists).

    ``root_path`` is the path part of the public URL, for an app served under a prefix.

    >>> SelfTransport("/paydesk").root_path
    '/paydesk'
    """

    def __init__(self, root_path: str = "") -> None:
        self.root_path = root_path.rstrip("/")
        self.app: FastAPI | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Hand the request to the app, as a server would."""
        if self.app is None:
            raise httpx.ConnectError("the app is not built yet", request=request)
        inner = httpx.ASGITransport(app=self.app, root_path=self.root_path)
        return await inner.handle_async_request(request)


@dataclass
class Runtime:
    """A built app with what it was built from."""

    settings: Settings
    config: PaydeskConfig
    services: Services
    app: FastAPI
    sandbox: Sandbox | None

    @property
    def base_url(self) -> str:
        """The public URL (no trailing slash)."""
        return self.settings.public_url.rstrip("/")

    @property
    def docs_url(self) -> str:
        """The OpenAPI page."""
        return f"{self.base_url}/docs"

    @property
    def sandbox_url(self) -> str | None:
        """The mounted sandbox's base URL (WeChat's, here), or None without a sandbox."""
        return f"{self.base_url}{SANDBOX_PATH}" if self.sandbox is not None else None

    @property
    def sandbox_log_url(self) -> str | None:
        """The sandbox's log page for people, or None without a sandbox."""
        return f"{self.sandbox_url}/_sandbox/log" if self.sandbox_url else None

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An HTTP client that talks to the app in-process (demo, benchmarks).

        Run the app's lifespan around it (``async with runtime.running():``).
        """
        transport = SelfTransport(urlsplit(self.base_url).path)
        transport.app = self.app
        return httpx.AsyncClient(transport=transport, base_url=self.base_url, **options)

    def running(self) -> AbstractAsyncContextManager[Any]:
        """The app's lifespan (sandbox, background jobs, closing), for in-process use."""
        return self.app.router.lifespan_context(self.app)

    @property
    def embedded(self) -> bool:
        """The no-config-file setup: the sandbox's merchants, the sandbox as WeChat."""
        return self.settings.config_file is None

    async def prepare(self) -> str | None:
        """Migrate the database; embedded, on the very first start, make an API key.

        The key is returned once (only its digest is stored). With a config file no key is
        made here — a production start must not print a secret into its logs: the operator
        runs ``paydesk apikey create``. The engine's connections are closed afterwards, so
        this may run on another event loop than the server's.
        """
        engine = self.services.engine
        try:
            await upgrade_async(engine)
            if not self.embedded:
                return None
            async with self.services.db.begin() as session:
                if await session.scalar(select(ApiKey.id).limit(1)) is not None:
                    return None
                plain, _ = await apikeys.create_api_key(
                    session,
                    name=FIRST_KEY_NAME,
                    mchid=None,
                    ids=self.services.ids,
                    now=self.services.clock.now(),
                )
                return plain
        finally:
            await engine.dispose()


def build_runtime(
    settings: Settings,
    *,
    background: Sequence[BackgroundJob] = (),
    clock: Clock | None = None,
    sandbox_credentials: SandboxCredentials | None = None,
) -> Runtime:
    """Build the app for ``settings`` (see the module docstring for the two modes).

    Sandbox keys are ``sandbox_credentials`` if given, else read from ``<data_dir>/sandbox``
    and made there on the first start (a second or two). Raises :class:`ServeConfigError`
    when production is asked for without a config file, and the config loader's errors for a
    bad file.
    """
    embedded = settings.config_file is None
    if embedded and settings.environment == "production":
        raise ServeConfigError(
            "production needs PAYDESK_CONFIG_FILE (your merchants and apps); the embedded "
            "sandbox setup is for development"
        )
    settings, config = load_settings_and_config(settings)
    sandbox: Sandbox | None = None
    to_self = SelfTransport(urlsplit(settings.public_url).path)
    endpoints = None
    if embedded or settings.sandbox:
        credentials = sandbox_credentials or SandboxCredentials.load_or_create(
            settings.data_dir / "sandbox"
        )
        sandbox = Sandbox(credentials, transport=to_self)
        endpoints = Endpoints.sandbox(settings.public_url.rstrip("/") + SANDBOX_PATH)
        if embedded:
            config = config_from_sandbox(credentials)
    services = build_services(
        settings,
        config,
        clock=clock,
        endpoints=endpoints,
        wechat_transport=to_self if sandbox is not None else None,
    )
    app = create_app(services)
    if sandbox is not None:
        app.mount(SANDBOX_PATH, sandbox.asgi(), name="sandbox")
    _wrap_lifespan(app, services, sandbox, background)
    to_self.app = app
    return Runtime(settings, config, services, app, sandbox)


def _wrap_lifespan(
    app: FastAPI, services: Services, sandbox: Sandbox | None, background: Sequence[BackgroundJob]
) -> None:
    # Starlette does not run a mounted app's lifespan: the host starts and stops the sandbox.
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            if sandbox is not None:
                await sandbox.start()
            tasks = [asyncio.create_task(job(services)) for job in background]
            try:
                yield state
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with suppress(asyncio.CancelledError):
                        await task
                if sandbox is not None:
                    await sandbox.stop()

    app.router.lifespan_context = lifespan
