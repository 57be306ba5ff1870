"""Dependencies of the mini program user's routes: the session behind a ``pds_…`` token, the
caller of a route open to merchants *and* users, and the client's address.

    async def pay(order_id: str, user: CurrentUser, client_ip: ClientIp) -> ...
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Header, Request

from paydesk.api.deps import ServicesDep, bearer
from paydesk.cache import SessionRecord
from paydesk.db.models import ApiKey
from paydesk.domain import apikeys
from paydesk.domain.users import TOKEN_PREFIX, authenticate

__all__ = [
    "ClientIp",
    "CurrentUser",
    "UserOrMerchant",
    "client_ip",
    "current_user",
    "forwarded_client",
    "user_or_merchant",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


async def current_user(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> SessionRecord:
    """The live session of ``Authorization: Bearer pds_…`` (401 when missing or ended)."""
    return await authenticate(services, bearer(authorization))


CurrentUser = Annotated[SessionRecord, Depends(current_user)]


async def user_or_merchant(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> ApiKey | SessionRecord:
    """A route open to both: a user (``pds_…``) or a merchant backend (``pdk_…``)."""
    token = bearer(authorization)
    if token.startswith(TOKEN_PREFIX):
        return await authenticate(services, token)
    return await apikeys.authenticate_key(services.db, token, now=services.clock.now())


UserOrMerchant = Annotated[ApiKey | SessionRecord, Depends(user_or_merchant)]


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _is_trusted(address: str, networks: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str | None, forwarded_for: str, trusted: tuple[str, ...]) -> str | None:
    """The client's address: the peer, or — only when the peer is one of our ``trusted``
    proxies — the nearest ``X-Forwarded-For`` hop that is not (a client can prepend anything).

    >>> forwarded_client("10.0.0.2", "198.51.100.7, 203.0.113.9", ("10.0.0.0/8",))
    '203.0.113.9'
    >>> forwarded_client("192.0.2.1", "203.0.113.9", ("10.0.0.0/8",))
    '192.0.2.1'
    """
    networks = _networks(trusted)
    if peer is None or not _is_trusted(peer, networks):
        return peer
    address = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage in the chain: trust nothing before it
        address = hop
        if not _is_trusted(hop, networks):
            break
    return address


async def client_ip(request: Request, services: ServicesDep) -> str | None:
    """The address of the client making ``request`` (see :func:`forwarded_client`).

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in its
    thread pool, a thread hop per request for a dictionary lookup."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for", "")
    return forwarded_client(peer, forwarded, services.settings.trusted_proxies)


ClientIp = Annotated[str | None, Depends(client_ip)]
