"""The shopper's IP: X-Forwarded-For believed only from trusted proxies, read from the right."""

from __future__ import annotations

import pytest

from paydesk.web.client_ip import client_ip

PROXIES = ("10.0.0.0/8", "192.0.2.1", "2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # peer not ours: its header is a lie
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),  # the left is client-chosen
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3, 192.0.2.1", "198.51.100.7"),
        ("10.0.0.2", "10.0.0.5, 10.0.0.3", "10.0.0.5"),  # every hop ours: the first one
        ("10.0.0.2", "evil, 10.0.0.9", "10.0.0.9"),  # garbage stops the walk
        ("10.0.0.2", "10.0.0.9, ", "10.0.0.2"),  # an empty hop is garbage too
        ("192.0.2.1", " 2001:db8::7 ,198.51.100.8", "198.51.100.8"),
        ("2001:db8::1", "2400:cb00::1", "2400:cb00::1"),
        ("::ffff:203.0.113.1", "1.2.3.4", "203.0.113.1"),  # dual-stack sockets
        ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),
    ],
)
def test_table(peer: str, forwarded: str | None, expected: str) -> None:
    assert client_ip(peer, forwarded, trusted_proxies=PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip("10.0.0.2", "198.51.100.7", trusted_proxies=()) == "10.0.0.2"


def test_a_peer_that_is_not_an_address_has_no_ip() -> None:
    assert client_ip(None, "1.2.3.4", trusted_proxies=PROXIES) is None
    assert client_ip("testclient", "1.2.3.4", trusted_proxies=PROXIES) is None


def test_an_unreadable_proxy_entry_trusts_nothing() -> None:
    assert client_ip("10.0.0.2", "198.51.100.7", trusted_proxies=("not-a-net",)) == "10.0.0.2"
