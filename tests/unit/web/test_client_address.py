"""The client's address: X-Forwarded-For is believed only from a trusted proxy, read from the right."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from salon.web.client_address import resolve_client

PROXIES = [ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"), ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # an untrusted peer: the header is its own word, ignored
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("192.168.1.4", ["10.0.0.1"], "192.168.1.4"),
        # a trusted proxy: the right-most address that is no trusted proxy
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", ["forged, 198.51.100.66, 203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.5, 10.0.0.2"], "203.0.113.5"),
        ("10.1.2.3", ["1.1.1.1", "203.0.113.5, 10.0.0.2"], "203.0.113.5"),  # several header lines are one chain
        ("127.0.0.1", [" 203.0.113.5:5678 "], "203.0.113.5"),  # a port some proxies add
        ("127.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("127.0.0.1", ["2001:db8::1"], "2001:db8::1"),
        ("fd00::5", ["::ffff:203.0.113.5"], "203.0.113.5"),  # an IPv4 client of a dual-stack proxy
        ("::ffff:127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        # every hop trusted: the left-most; a trusted proxy without the header: the proxy
        ("127.0.0.1", ["10.0.0.7, 10.0.0.2"], "10.0.0.7"),
        ("127.0.0.1", [], "127.0.0.1"),
        # garbage where a trusted proxy's entry should be: stop at the last hop we trust
        ("127.0.0.1", ["203.0.113.5, not-an-address"], "127.0.0.1"),
        ("127.0.0.1", ["[::1, 10.0.0.2"], "10.0.0.2"),
        # no address at all (an in-process transport)
        (None, ["203.0.113.5"], "unknown"),
        ("testclient", ["203.0.113.5"], "testclient"),
    ],
)
def test_the_client_is_the_right_most_address_not_a_trusted_proxy(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert resolve_client(peer, forwarded, PROXIES) == client


def test_with_no_trusted_proxy_the_peer_is_the_client() -> None:
    assert resolve_client("127.0.0.1", ["203.0.113.5"], []) == "127.0.0.1"
