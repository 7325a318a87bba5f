"""CLI layer: the real probes of ``salon doctor``'s TURN and NAT checks (cli/doctor_checks.py): is coturn installed,
does something answer STUN on the TURN port here, would the port bind, can a file be read, what address a STUN
server sees this machine at; and which external Janus nodes the managed coturn would refuse to relay to."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from aioice import stun

from salon.adapters.turn.config import denied_peer
from salon.adapters.turn.process import TURN_BINARY
from salon.app.settings import Settings

STUN_TIMEOUT_S = 1.0  # coturn on this machine answers in well under a millisecond


def coturn_installed() -> bool:
    return TURN_BINARY.exists()


def stun_mapped(host: str, port: int, *, tries: int = 1) -> str | None:
    """The address a STUN server at host:port (UDP) sees this machine at, or None when it does not answer: after a
    NAT, the public one (what Janus asks at start-up with ``SALON_STUN_SERVER``). coturn answers without
    credentials. ``tries`` requests, ``STUN_TIMEOUT_S`` each: one for a server on this machine, more across a
    network that may drop one."""
    for _ in range(tries):
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(STUN_TIMEOUT_S)
            try:
                sock.sendto(bytes(request), (host, port))
                answer = stun.parse_message(sock.recv(2048))
            except (OSError, ValueError):  # refused (ICMP), unresolved, timed out, or not STUN
                continue
        if answer.transaction_id != request.transaction_id or answer.message_method != stun.Method.BINDING:
            continue
        mapped = answer.attributes.get("XOR-MAPPED-ADDRESS") or answer.attributes.get("MAPPED-ADDRESS")
        return str(mapped[0]) if mapped else ""
    return None


def stun_answers(host: str, port: int) -> bool:
    """Does a STUN server answer a binding request at host:port over UDP?"""
    return stun_mapped(host, port) is not None


def nat_stun_mapped(host: str, port: int) -> str | None:
    """``stun_mapped`` for a server across the internet: three tries (Janus's own test waits 5 s)."""
    return stun_mapped(host, port, tries=3)


def port_bindable(host: str, port: int, transport: Literal["udp", "tcp"]) -> bool:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def unreached_media(settings: Settings, resolve: Callable[[str], list[str]]) -> list[str]:
    """The external Janus nodes (as "host (addresses)") whose address is in a range the managed coturn denies and
    not among ``settings.turn_peers``: relayed members could reach none of them (coturn answers 403 to their
    permission). A node's media address is taken to be its API URL's host, as the default of those peers does."""
    allowed = set(settings.turn_peers)
    unreached = []
    for node in settings.external_janus_nodes:
        host = urlsplit(node.url).hostname or ""
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = resolve(host)
        if not addresses:
            if not settings.turn_media_peers:  # set by hand: trust it for a name only the nodes' network knows
                unreached.append(f"{host} (does not resolve here)")
        elif not allowed & set(addresses) and any(denied_peer(a) for a in addresses):
            unreached.append(f"{host} ({', '.join(addresses)})")
    return unreached
