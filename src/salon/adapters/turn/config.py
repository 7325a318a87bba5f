"""Adapters layer: the locked-down ``turnserver.conf`` for the managed coturn (4.6).

The relay must never be an open proxy into the box's own networks: every private, loopback, link-local, CGNAT,
unique-local and otherwise special range is a ``denied-peer-ip``, and ``allowed-peer-ip`` re-opens only the media
servers' own addresses (Janus's interface), the one kind of peer a Salon client has a reason to reach. Credentials
are the TURN REST API ones (``use-auth-secret``: domain/turn.py), so coturn keeps no user database. Option names are
those of coturn 4.6's ``/etc/turnserver.conf``.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DENIED_PEER_RANGES", "ManagedTurnConfig", "denied_peer", "render_config", "write_config"]

CONF_NAME = "turnserver.conf"
LOG_NAME = "turnserver.log"

# coturn 4.6 takes "ip" or "ip-ip" ranges here. Always denied, whatever the operator allows beside the media servers.
DENIED_PEER_RANGES: tuple[str, ...] = (
    "0.0.0.0-0.255.255.255",  # "this" network
    "10.0.0.0-10.255.255.255",  # RFC 1918
    "100.64.0.0-100.127.255.255",  # CGNAT (RFC 6598)
    "127.0.0.0-127.255.255.255",  # loopback
    "169.254.0.0-169.254.255.255",  # link-local (cloud metadata services live here)
    "172.16.0.0-172.31.255.255",  # RFC 1918
    "192.0.0.0-192.0.0.255",  # IETF protocol assignments
    "192.168.0.0-192.168.255.255",  # RFC 1918
    "198.18.0.0-198.19.255.255",  # benchmarking
    "240.0.0.0-255.255.255.255",  # reserved and broadcast
    "::-::1",  # unspecified and loopback
    "::ffff:0.0.0.0-::ffff:255.255.255.255",  # IPv4-mapped: the IPv4 ranges again by another name
    "64:ff9b::-64:ff9b::ffff:ffff",  # NAT64
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",  # unique local (ULA)
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",  # link-local
)


def denied_peer(address: str) -> bool:
    """Is ``address`` in one of the ranges the managed coturn refuses to relay to (unless allowed by name)?"""
    ip = ipaddress.ip_address(address)
    for text in DENIED_PEER_RANGES:
        low, _, high = text.partition("-")
        lo, hi = ipaddress.ip_address(low), ipaddress.ip_address(high or low)
        if lo.version == ip.version and int(lo) <= int(ip) <= int(hi):
            return True
    return False


@dataclass(frozen=True)
class ManagedTurnConfig:
    realm: str
    secret: str
    listen_ip: str
    port: int = 3478
    # The address coturn relays from, and the one it announces behind a 1:1 NAT ("public/private" as coturn wants).
    relay_ip: str | None = None
    external_ip: str | None = None
    min_port: int = 49160
    max_port: int = 49200
    tls_port: int | None = None
    cert: Path | None = None
    key: Path | None = None
    # The media servers' addresses: the only peers allowed inside the denied ranges.
    allowed_peers: tuple[str, ...] = field(default=())
    log_file: Path | None = None

    def __post_init__(self) -> None:
        for peer in self.allowed_peers:
            ipaddress.ip_address(peer)  # one address each, never a range: a range would re-open a network
        if (self.cert is None) != (self.key is None) or (self.tls_port is not None) != (self.cert is not None):
            raise ValueError("TURN over TLS needs a port, a certificate and a key together")
        if not 1 <= self.min_port <= self.max_port <= 65535:
            raise ValueError("the TURN relay port range must be 1 <= min <= max <= 65535")
        for text in (self.realm, self.secret, self.listen_ip):
            if not text or any(c in text for c in "\n\r\"' #"):
                raise ValueError("the TURN realm, secret and listening address must be plain single words")


def render_config(config: ManagedTurnConfig) -> str:
    lines = [
        f"listening-ip={config.listen_ip}",
        f"listening-port={config.port}",
        f"min-port={config.min_port}",
        f"max-port={config.max_port}",
        "fingerprint",
        "use-auth-secret",
        f"static-auth-secret={config.secret}",
        f"realm={config.realm}",
        "no-cli",
        "no-multicast-peers",
        "no-software-attribute",
        "no-rfc5780",
        "no-stun-backward-compatibility",
        "no-dtls",
        "stale-nonce=600",
        # Bounded per credential and overall, so one member cannot hold the relay's ports.
        "user-quota=12",
        "total-quota=1200",
    ]
    if config.relay_ip:
        lines.append(f"relay-ip={config.relay_ip}")
    if config.external_ip:
        lines.append(f"external-ip={config.external_ip}")
    if config.tls_port is not None and config.cert is not None and config.key is not None:
        lines += [f"tls-listening-port={config.tls_port}", f"cert={config.cert}", f"pkey={config.key}"]
    else:
        lines.append("no-tls")
    lines += [f"denied-peer-ip={r}" for r in DENIED_PEER_RANGES]
    lines += [f"allowed-peer-ip={p}" for p in config.allowed_peers]
    if any(ipaddress.ip_address(p).is_loopback for p in config.allowed_peers):
        # Only when a media server itself listens on loopback (one box, tests): coturn refuses loopback otherwise.
        lines.append("allow-loopback-peers")
    lines.append(f"log-file={config.log_file}" if config.log_file else "log-file=stdout")
    lines.append("simple-log")
    return "\n".join(lines) + "\n"


def write_config(config: ManagedTurnConfig, folder: Path) -> Path:
    """Write the config (it holds the secret: 0600 in a 0700 folder) and return its path."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    path = folder / CONF_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render_config(config))
    path.chmod(0o600)
    return path
