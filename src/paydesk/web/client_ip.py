"""The shopper's real IP address, which an H5 prepay must declare (``scene_info.payer_client_ip``).

``X-Forwarded-For`` is honoured only when the connection comes from one of the configured
``trusted_proxies`` (``PAYDESK_TRUSTED_PROXIES``: addresses or networks). Then the list is read
from the right, skipping our own proxies, and the first address not ours is the client — the
left-hand entries are whatever the client chose to send, so they are never believed.

>>> client_ip("203.0.113.9", "1.2.3.4", trusted_proxies=())
'203.0.113.9'
>>> client_ip("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3", trusted_proxies=("10.0.0.0/8",))
'198.51.100.7'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["client_ip"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; WeChat and our proxy list
    # think of them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _networks(trusted: Sequence[str]) -> list[_Network]:
    networks = []
    for entry in trusted:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # settings are checked elsewhere; an unreadable entry trusts nothing
    return networks


def _trusted(address: _Address, networks: list[_Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(
    peer: str | None, forwarded_for: str | None, *, trusted_proxies: Sequence[str]
) -> str | None:
    """The client's address: the peer's, or the nearest untrusted hop when the peer is trusted.

    ``None`` when the peer is not an IP address at all (e.g. a Unix socket).

    >>> client_ip("10.0.0.2", "not-an-ip, 10.0.0.9", trusted_proxies=("10.0.0.0/8",))
    '10.0.0.9'
    """
    address = _address(peer or "")
    if address is None:
        return None
    networks = _networks(trusted_proxies)
    if not forwarded_for or not _trusted(address, networks):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _address(hop)
        if hop_address is None:
            break  # a forged or garbled entry: keep the last address we could vouch for
        address = hop_address
        if not _trusted(hop_address, networks):
            break
    return str(address)
