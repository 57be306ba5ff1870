"""The services container: everything a request handler or a worker job needs, built once.

``build_services(settings, config)`` wires the database, the WeChat client (real hosts, or the
sandbox through an injected transport and base URL), the clock, the id source and the cache
(Redis when ``PAYDESK_REDIS_URL`` is set, else process memory and the database). Tests build it
with a fixed clock, a seeded id source and an in-process sandbox.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paydesk.cache import Cache, build_cache
from paydesk.client import Endpoints, WeChatClient
from paydesk.db.engine import create_engine, session_factory
from paydesk.domain.accounts import accounts
from paydesk.domain.clock import Clock, SystemClock
from paydesk.domain.ids import IdSource
from paydesk.domain.logsafety import guard_library_logs
from paydesk.domain.registry import Registry
from paydesk.settings import PaydeskConfig, Settings


@dataclass
class Services:
    """Long-lived dependencies shared by every request and job of one process."""

    settings: Settings
    registry: Registry
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    ids: IdSource
    wechat: WeChatClient
    secret_key: bytes
    #: Sessions, rate limits, locks: shared by every replica when Redis is configured.
    cache: Cache

    @property
    def order_ttl(self) -> timedelta:
        """How long a new order stays payable unless the merchant says otherwise."""
        return timedelta(seconds=self.settings.order_ttl_seconds)

    async def aclose(self) -> None:
        """Close the WeChat client, the cache and the database pool."""
        await self.wechat.aclose()
        await self.cache.aclose()
        await self.engine.dispose()


def build_services(
    settings: Settings,
    config: PaydeskConfig,
    *,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    wechat_transport: httpx.AsyncBaseTransport | None = None,
    endpoints: Endpoints | None = None,
    engine: AsyncEngine | None = None,
    cache: Cache | None = None,
) -> Services:
    """Wire everything from settings and config; injected parts replace the defaults."""
    guard_library_logs()
    clock = clock or SystemClock()
    ids = ids or IdSource(clock)
    engine = engine or create_engine(settings.effective_database_url())
    db = session_factory(engine)
    cache = cache or build_cache(
        settings.redis_url, settings.redis_prefix, database=db, clock=clock.now
    )
    merchants, apps = accounts(config)
    wechat = WeChatClient(
        merchants=merchants,
        apps=apps,
        endpoints=endpoints
        or Endpoints(
            pay_base_url=settings.wechat_pay_base_url, api_base_url=settings.wechat_api_base_url
        ),
        transport=wechat_transport,
        clock=lambda: int(clock.now().timestamp()),
        # One access token for every replica: Redis when configured (its lock makes the refresh
        # single-flight across processes), process memory otherwise.
        token_store=cache.tokens,
    )
    return Services(
        settings=settings,
        registry=Registry(config, settings.public_url),
        engine=engine,
        db=db,
        clock=clock,
        ids=ids,
        wechat=wechat,
        secret_key=secret_key_for(settings),
        cache=cache,
    )


def secret_key_for(settings: Settings) -> bytes:
    """The key that signs cashier links, pay tickets and OAuth state.

    ``PAYDESK_SECRET_KEY`` (required outside development), or in development a random key kept
    in ``<data_dir>/secret_key`` so links survive a restart.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip().encode()
