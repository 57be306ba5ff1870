"""A merchant's webhook endpoints and their signing secrets.

A new endpoint gets one secret ``whsec_…``, returned once and never shown again. Rotation puts
a new secret *first* and keeps the previous one, so both sign every request (two ``v1=``) while
the merchant's receivers move over; :func:`retire_old_secret` then drops the old one::

    add_endpoint(session, mchid="1900000001", url="https://shop.example/hooks", ...)
        -> (endpoint, "whsec_…")      secrets: [s1]
    rotate_secret(session, endpoint.id, ids=ids)  -> "whsec_…"   secrets: [s2, s1]
    retire_old_secret(session, endpoint.id)                      secrets: [s2]

Functions take the caller's session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paydesk.db.models import WebhookEndpoint
from paydesk.domain.errors import InvalidInput, NotFound
from paydesk.domain.ids import IdSource

__all__ = [
    "SECRET_PREFIX",
    "add_endpoint",
    "disable_endpoint",
    "enable_endpoint",
    "get_endpoint",
    "list_endpoints",
    "new_secret",
    "retire_old_secret",
    "rotate_secret",
]

#: Every signing secret starts with this, so a leaked one is easy to recognise and grep for.
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_SECRET_BYTES = 24
_MAX_URL_LENGTH = 2048
_MAX_MCHID_LENGTH = 32


def new_secret(ids: IdSource) -> str:
    """A fresh signing secret: ``whsec_`` + 192 random bits in base32.

    >>> from paydesk.domain.clock import SystemClock
    >>> new_secret(IdSource(SystemClock(), lambda n: bytes(n)))
    'whsec_000000000000000000000000000000000000000'
    """
    return SECRET_PREFIX + ids.token(_SECRET_BYTES)


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("invalid_url", "a webhook URL must be an absolute http(s) URL")
    if len(url) > _MAX_URL_LENGTH:
        raise InvalidInput("invalid_url", f"a webhook URL must be at most {_MAX_URL_LENGTH} long")
    return url.strip()


async def add_endpoint(
    session: AsyncSession, *, mchid: str, url: str, ids: IdSource, now: datetime
) -> tuple[WebhookEndpoint, str]:
    """Register ``url`` for the merchant's events; returns the endpoint and its secret.

    The secret is shown to the operator once: store it in the receiving application.
    """
    if not 0 < len(mchid) <= _MAX_MCHID_LENGTH:
        raise InvalidInput("invalid_mchid", "mchid must be 1–32 characters")
    secret = new_secret(ids)
    endpoint = WebhookEndpoint(
        id=ids.new("whe"),
        mchid=mchid,
        url=_check_url(url),
        secrets=[secret],
        enabled=True,
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    """One endpoint, or NotFound."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    if endpoint is None:
        raise NotFound("endpoint_not_found", f"no webhook endpoint {endpoint_id}")
    return endpoint


async def rotate_secret(session: AsyncSession, endpoint_id: str, *, ids: IdSource) -> str:
    """Add a new secret in front of the current one; returns it. Two secrets stay active.

    Rotating again before retiring drops the oldest, so there are never more than two.
    """
    endpoint = await get_endpoint(session, endpoint_id)
    secret = new_secret(ids)
    # A new list, not an in-place change: the JSON column only notices assignment.
    endpoint.secrets = [secret, endpoint.secrets[0]]
    await session.flush()
    return secret


async def retire_old_secret(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    """Keep only the newest secret (after the merchant's receivers use it)."""
    endpoint = await get_endpoint(session, endpoint_id)
    endpoint.secrets = [endpoint.secrets[0]]
    await session.flush()
    return endpoint


async def disable_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    """Stop sending to this endpoint. New events skip it; pending deliveries wait, unsent."""
    endpoint = await get_endpoint(session, endpoint_id)
    endpoint.enabled = False
    await session.flush()
    return endpoint


async def enable_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    """Send to this endpoint again, starting with the deliveries that waited."""
    endpoint = await get_endpoint(session, endpoint_id)
    endpoint.enabled = True
    await session.flush()
    return endpoint


async def list_endpoints(
    session: AsyncSession, *, mchid: str | None = None
) -> list[WebhookEndpoint]:
    """Every endpoint (of one merchant, if given), oldest first."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if mchid is not None:
        query = query.where(WebhookEndpoint.mchid == mchid)
    return list((await session.scalars(query)).all())
