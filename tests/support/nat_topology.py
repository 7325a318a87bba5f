"""Test support: a "cloud" behind a 1:1 NAT, and a client outside that reaches only the public address.

Four network namespaces this module creates (and deletes), joined by veth pairs::

    cloud  [c0 10.0.0.2/24, default via 10.0.0.1]     lan [l0 10.0.0.3/24, default via 10.0.0.1]  (stateful firewall)
      |                                                 |
    router [br0 10.0.0.1/24 = bridge of r0 and r2 | r1 198.51.100.1/24 + 198.51.100.2/32]
      |     nftables: 198.51.100.2 <-> 10.0.0.2 (DNAT in, SNAT out), IPv4 forwarding on
    outside [o0 198.51.100.3/24, no route to 10.0.0.0/24]            nftables: inbound only for flows it started

"lan" is another machine on the cloud's private network (same subnet, one switch: the router's bridge, which does
not pass bridged frames to its IP firewall, so no NAT between lan and cloud). Like a real NAT without hairpinning,
a packet lan sends to 198.51.100.2 is DNATed to 10.0.0.2, but the answer comes back straight from 10.0.0.2, which
lan's firewall drops: lan reaches the cloud only at 10.0.0.2 — what ``keep_private_host`` is for.

The "outside" client sits behind its own stateful firewall, as a listener behind a home router does: a packet from
the cloud gets in only as the answer to one the client sent. So a client that was offered only 10.0.0.2 (which it
cannot reach) cannot be reached by Janus's connectivity checks either: ICE fails, as it does for most real listeners.
(Without that firewall it would not: Janus's checks, SNATed to 198.51.100.2, reach the client, which answers them
as a peer-reflexive candidate and ICE succeeds — measured; only a client with an open address is that lucky.)
198.51.100.0/24 is TEST-NET-2 and 10.0.0.0/24 private: neither leaves the namespaces (nothing routes to the root
namespace). Needs root, ``ip`` (iproute2) and ``nft`` (nftables; scripts/install-system-deps.sh).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.support.netns import NamespaceError, NetNamespace, delete_namespace

__all__ = ["CLIENT", "LAN", "PRIVATE", "PUBLIC", "NatTopology", "nat_topology"]

PRIVATE: Final = "10.0.0.2"
LAN: Final = "10.0.0.3"
PUBLIC: Final = "198.51.100.2"
CLIENT: Final = "198.51.100.3"
_TIMEOUT_S: Final = 10.0

_ROUTER_RULES: Final = f"""
table ip salon_nat {{
    chain inbound {{
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr {PUBLIC} dnat to {PRIVATE}
    }}
    chain outbound {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {PRIVATE} oifname "r1" snat to {PUBLIC}
    }}
}}
"""

_CLIENT_FIREWALL: Final = """
table inet salon_home {
    chain inbound {
        type filter hook input priority filter; policy drop;
        iifname "lo" accept
        ct state established,related accept
    }
}
"""


def _run(*argv: str, stdin: str | None = None) -> None:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NamespaceError(f"`{' '.join(argv)}` failed: {e}") from e
    if done.returncode != 0:
        raise NamespaceError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()}")


@dataclass(frozen=True)
class NatTopology:
    cloud: NetNamespace
    router: NetNamespace
    outside: NetNamespace
    lan: NetNamespace

    @staticmethod
    def exec_argv(ns: NetNamespace) -> list[str]:
        """The prefix that runs a command in ``ns`` (``ip netns exec``)."""
        return ["ip", "netns", "exec", ns.name]


def _veth(a: NetNamespace, a_name: str, b: NetNamespace, b_name: str) -> None:
    _run("ip", "-n", a.name, "link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", b.name)
    for ns, name in ((a, a_name), (b, b_name)):
        # No IPv6 link-local address: ICE would gather an fe80:: candidate beside the IPv4 one.
        _run("ip", "-n", ns.name, "link", "set", name, "addrgenmode", "none")
        _run("ip", "-n", ns.name, "link", "set", name, "up")


def _build(cloud: NetNamespace, router: NetNamespace, outside: NetNamespace, lan: NetNamespace) -> None:
    _veth(cloud, "c0", router, "r0")
    _veth(lan, "l0", router, "r2")
    _veth(router, "r1", outside, "o0")
    _run("ip", "-n", router.name, "link", "add", "br0", "type", "bridge")
    _run("ip", "-n", router.name, "link", "set", "br0", "addrgenmode", "none")
    for port in ("r0", "r2"):
        _run("ip", "-n", router.name, "link", "set", port, "master", "br0")
    _run("ip", "-n", router.name, "link", "set", "br0", "up")
    # Bridged frames stay out of the router's IP hooks (as on a switch): else conntrack would undo the DNAT on
    # the cloud's answers to lan and hide the missing hairpin. The sysctl exists only when br_netfilter is loaded.
    bridge_nf = "net.bridge.bridge-nf-call-iptables"
    if Path("/proc/sys", *bridge_nf.split(".")).exists():
        _run("ip", "netns", "exec", router.name, "sysctl", "-qw", f"{bridge_nf}=0")
    for ns, name, address in ((cloud, "c0", PRIVATE), (lan, "l0", LAN)):
        _run("ip", "-n", ns.name, "addr", "add", f"{address}/24", "dev", name)
        _run("ip", "-n", ns.name, "route", "add", "default", "via", "10.0.0.1")
    _run("ip", "netns", "exec", lan.name, "nft", "-f", "-", stdin=_CLIENT_FIREWALL)
    _run("ip", "-n", router.name, "addr", "add", "10.0.0.1/24", "dev", "br0")
    _run("ip", "-n", router.name, "addr", "add", "198.51.100.1/24", "dev", "r1")
    # The public address is the router's on the outside link (it answers ARP for it), then DNAT sends it on.
    _run("ip", "-n", router.name, "addr", "add", f"{PUBLIC}/32", "dev", "r1")
    _run("ip", "netns", "exec", router.name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    _run("ip", "netns", "exec", router.name, "nft", "-f", "-", stdin=_ROUTER_RULES)
    _run("ip", "-n", outside.name, "addr", "add", f"{CLIENT}/24", "dev", "o0")
    _run("ip", "netns", "exec", outside.name, "nft", "-f", "-", stdin=_CLIENT_FIREWALL)


def _bare_namespace(prefix: str) -> NetNamespace:
    # Not netns.create_namespace: its dummy 198.18.0.1 in every namespace would be one more ICE candidate, the same
    # address on both sides of the NAT.
    if os.geteuid() != 0:
        raise NamespaceError(f"creating a network namespace needs root; running as uid {os.geteuid()}")
    name = f"{prefix}-{secrets.token_hex(3)}"
    _run("ip", "netns", "add", name)
    ns = NetNamespace(name=name, interface_kind="none", address="", interface="")
    try:
        _run("ip", "-n", name, "link", "set", "lo", "up")
    except BaseException:
        delete_namespace(ns)
        raise
    return ns


@contextlib.contextmanager
def nat_topology() -> Iterator[NatTopology]:
    """The four namespaces for the block; a failure to build them fails the test (never a skip)."""
    made: list[NetNamespace] = []
    try:
        try:
            for prefix in ("salon-cloud", "salon-router", "salon-out", "salon-lan"):
                made.append(_bare_namespace(prefix))
            cloud, router, outside, lan = made
            _build(cloud, router, outside, lan)
        except NamespaceError as e:
            pytest.fail(f"cannot build the NAT test topology: {e}", pytrace=False)
        yield NatTopology(cloud, router, outside, lan)
    finally:
        for ns in reversed(made):
            delete_namespace(ns)
