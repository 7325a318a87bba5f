"""Test support: a server and a client on a network whose firewall drops every UDP packet the client sends or gets.

Two network namespaces this module creates (and deletes), joined by a veth pair::

    server  [srv0 198.18.1.1/24]   Salon, its managed Janus (announcing 198.18.1.1) and managed coturn
      |                            nftables: counts UDP from the client that arrives (none may)
    client  [cli0 198.18.1.2/24]   nftables: drops all UDP in and out (counted), and optionally TCP to some ports

So the client's host candidates, any server-reflexive one and TURN over UDP all fail, and only TURN over TCP or TLS
can carry its media. ``block(tcp_ports)`` replaces the client's rules (counters back to 0): e.g. also dropping TCP
to the plain TURN port leaves TURN over TLS as the one way through, a firewall that lets only HTTPS-like traffic
out. ``udp_dropped()`` and ``udp_arrived()`` read the counters. Nothing routes out of either namespace
(198.18.0.0/15 is the benchmarking range). Needs root, ``ip`` and ``nft`` (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.support.https_proxy import local_ca
from tests.support.nat_topology import _bare_namespace, _run, _veth
from tests.support.netns import NamespaceError, NetNamespace, delete_namespace

__all__ = [
    "APP_PORT",
    "CLIENT_IP",
    "SERVER_IFACE",
    "SERVER_IP",
    "TLS_PORT",
    "TURN_PORT",
    "UdpBlocked",
    "loopback_forward",
    "salon_settings",
    "udp_blocked",
]

SERVER_IP: Final = "198.18.1.1"
CLIENT_IP: Final = "198.18.1.2"
SERVER_IFACE: Final = "srv0"
APP_PORT: Final = 8000  # the namespaces are the test's own: fixed ports cannot collide with anything
TURN_PORT: Final = 3478
TLS_PORT: Final = 5349
CLIENT_TABLE: Final = "salon_no_udp"
SERVER_TABLE: Final = "salon_udp_seen"


def _client_rules(tcp_ports: tuple[int, ...]) -> str:
    tcp = f"        tcp dport {{ {', '.join(map(str, tcp_ports))} }} counter name tcp_out drop\n" if tcp_ports else ""
    return (
        f"table inet {CLIENT_TABLE} {{\n"
        "    counter udp_out { }\n"
        "    counter udp_in { }\n"
        "    counter tcp_out { }\n"
        "    chain outbound {\n"
        "        type filter hook output priority filter; policy accept;\n"
        '        meta l4proto udp counter name "udp_out" drop\n'
        f"{tcp}"
        "    }\n"
        "    chain inbound {\n"
        "        type filter hook input priority filter; policy accept;\n"
        '        meta l4proto udp counter name "udp_in" drop\n'
        "    }\n"
        "}\n"
    )


# On the server's side: every UDP packet that came from the client, counted and let through. It must stay at 0.
_SERVER_RULES: Final = f"""
table inet {SERVER_TABLE} {{
    counter from_client {{ }}
    chain inbound {{
        type filter hook prerouting priority raw; policy accept;
        ip saddr {CLIENT_IP} meta l4proto udp counter name "from_client"
    }}
}}
"""


def _counter(ns: NetNamespace, table: str, name: str) -> int:
    done = subprocess.run(
        ["ip", "netns", "exec", ns.name, "nft", "-j", "list", "counter", "inet", table, name],
        capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    for item in json.loads(done.stdout)["nftables"]:
        if "counter" in item:
            return int(item["counter"]["packets"])
    raise AssertionError(f"no counter {name} in {done.stdout}")


@dataclass(frozen=True)
class UdpBlocked:
    server: NetNamespace
    client: NetNamespace

    def block(self, tcp_ports: tuple[int, ...] = ()) -> None:
        """The client's firewall afresh (counters at 0): all UDP dropped, and TCP to ``tcp_ports``."""
        exec_nft = ("ip", "netns", "exec", self.client.name, "nft")
        with contextlib.suppress(NamespaceError):
            _run(*exec_nft, "delete", "table", "inet", CLIENT_TABLE)
        _run(*exec_nft, "-f", "-", stdin=_client_rules(tcp_ports))
        server_nft = ("ip", "netns", "exec", self.server.name, "nft")
        with contextlib.suppress(NamespaceError):
            _run(*server_nft, "delete", "table", "inet", SERVER_TABLE)
        _run(*server_nft, "-f", "-", stdin=_SERVER_RULES)

    def udp_dropped(self) -> int:
        """UDP packets the client's firewall dropped, out and in."""
        return _counter(self.client, CLIENT_TABLE, "udp_out") + _counter(self.client, CLIENT_TABLE, "udp_in")

    def tcp_dropped(self) -> int:
        return _counter(self.client, CLIENT_TABLE, "tcp_out")

    def udp_arrived(self) -> int:
        """UDP packets from the client that reached the server's namespace."""
        return _counter(self.server, SERVER_TABLE, "from_client")


@contextlib.contextmanager
def udp_blocked() -> Iterator[UdpBlocked]:
    """The two namespaces, UDP blocked on the client; a failure to build them fails the test (never a skip)."""
    made: list[NetNamespace] = []
    try:
        try:
            for prefix in ("salon-srv", "salon-noudp"):
                made.append(_bare_namespace(prefix))
            server, client = made
            _veth(server, SERVER_IFACE, client, "cli0")
            _run("ip", "-n", server.name, "addr", "add", f"{SERVER_IP}/24", "dev", SERVER_IFACE)
            _run("ip", "-n", client.name, "addr", "add", f"{CLIENT_IP}/24", "dev", "cli0")
            topology = UdpBlocked(server, client)
            topology.block()
        except NamespaceError as e:
            pytest.fail(f"cannot build the UDP-blocked test topology: {e}", pytrace=False)
        yield topology
    finally:
        for ns in reversed(made):
            delete_namespace(ns)


def salon_settings(workdir: Path) -> dict[str, str]:
    """``salon serve`` (tests/support/browser.py's ``running_salon``) for the server namespace: on the veth address
    as well as its loopback, its Janus and its coturn (TCP and UDP on 3478, TLS on 5349 with a certificate for
    198.18.1.1 from a CA written to ``workdir/ca.pem``) there too, listeners on WebRTC (no broadcast tier, which is
    HTTP and would not need TURN). Clients are told Salon's default TURN URLs for that host: UDP, TCP, then TLS."""
    tls = local_ca(workdir, SERVER_IP)
    return {
        "SALON_HOST": "0.0.0.0",  # noqa: S104 - inside the test's namespace: its loopback and its veth
        "SALON_PORT": str(APP_PORT),
        "SALON_PUBLIC_URL": f"http://{SERVER_IP}:{APP_PORT}",  # the TURN URLs clients are told name this host
        "SALON_JANUS_INTERFACE": SERVER_IP,
        "SALON_JANUS_ICE_ENFORCE_LIST": SERVER_IFACE,
        "SALON_TURN": "managed",
        "SALON_TURN_LISTEN_IP": SERVER_IP,
        "SALON_TURN_PORT": str(TURN_PORT),
        "SALON_TURN_TLS_PORT": str(TLS_PORT),
        "SALON_TURN_TLS_CERT": str(tls.cert),
        "SALON_TURN_TLS_KEY": str(tls.key),
        "SALON_AUDIENCE_TIER": "webrtc",
        "SALON_BROADCAST_WORKERS": "0",
    }


@contextlib.asynccontextmanager
async def loopback_forward(port: int = APP_PORT, host: str = SERVER_IP) -> AsyncIterator[None]:
    """Forward TCP from 127.0.0.1:``port`` (in the calling thread's namespace) to ``host``:``port``, for the block.

    A browser in the client namespace then opens Salon at http://127.0.0.1:<port>, a secure context (getUserMedia
    needs one) with no flag that would make an insecure origin pass for secure; the forwarder carries TCP only."""
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        for task in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(accepted, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()
