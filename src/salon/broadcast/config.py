"""Broadcast layer: the node's configuration — its command line and its secret, validated once at start-up.

``python -m salon.broadcast --name w0 --listen 127.0.0.1:0 --control 127.0.0.1:0 --rtp 127.0.0.1:0
[--allow-source IP]... [--allow-origin ORIGIN] [--max-listeners 12000] [--chunks ...] [--max-buffer-bytes N]
[--tls-cert FILE --tls-key FILE]``;
the secret shared with Salon comes from ``SALON_BROADCAST_SECRET`` (never the command line, which ``ps`` shows).
Addresses are IP literals: the node resolves no names.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salon.broadcast.tls import TlsError, server_context
from salon.domain.audience_chunks import DEFAULT_POLICY, ChunkPolicy, parse_policy
from salon.domain.stream_tickets import FIELD_MAX_CHARS, SECRET_MIN_CHARS
from salon.domain.text import is_id

SECRET_ENV = "SALON_BROADCAST_SECRET"  # noqa: S105 - the variable's name
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


@dataclass(frozen=True)
class Address:
    host: str
    port: int


@dataclass(frozen=True)
class Config:
    name: str
    listen: Address
    control: Address
    rtp: Address
    allow_sources: frozenset[str]
    allow_origin: str
    max_listeners: int
    policy: ChunkPolicy
    max_buffer_bytes: int
    secret: str
    tls: ssl.SSLContext | None = field(default=None, compare=False)  # the listeners' port only; None: plain HTTP


def address(text: str) -> Address:
    """``HOST:PORT`` with an IP literal (``[v6]:port`` for IPv6); ``ArgumentTypeError`` otherwise."""
    host, colon, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT with an IP address") from None
    if not colon or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} needs a port from 0 to 65535")
    return Address(host, int(port))


def source(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def origin(text: str) -> str:
    """``*`` or one origin (scheme://host[:port]): it goes verbatim into a header, so nothing else passes."""
    if text != "*" and _ORIGIN.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not '*' or an origin such as https://salon.example")
    return text


def name(text: str) -> str:
    if len(text) > FIELD_MAX_CHARS or not is_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a node name (letters, digits, '-' and '_')")
    return text


def policy(text: str) -> ChunkPolicy:
    try:
        return parse_policy(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--chunks {text!r}: {exc}") from None


def positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m salon.broadcast", description="Salon's broadcast node.")
    p.add_argument("--name", type=name, required=True, help="this node's name, as tickets name it")
    p.add_argument("--listen", type=address, default=address("127.0.0.1:0"), help="the listeners' port")
    p.add_argument("--control", type=address, default=address("127.0.0.1:0"), help="the control API's port")
    p.add_argument("--rtp", type=address, default=address("127.0.0.1:0"), help="where RTP from Janus arrives")
    p.add_argument("--allow-source", type=source, action="append", help="an IP RTP may come from (repeatable)")
    p.add_argument("--allow-origin", type=origin, default="*", help="Access-Control-Allow-Origin of the streams")
    p.add_argument("--max-listeners", type=positive, default=12000)
    p.add_argument("--chunks", type=policy, default=parse_policy(DEFAULT_POLICY), help=f"default {DEFAULT_POLICY}")
    p.add_argument("--max-buffer-bytes", type=positive, default=64 * 1024, help="past it a listener is too slow")
    p.add_argument("--tls-cert", type=Path, help="serve the listeners' port over TLS: PEM chain (with --tls-key)")
    p.add_argument("--tls-key", type=Path, help="the certificate's private key, PEM, unencrypted")
    return p


def load_config(argv: Sequence[str], env: Mapping[str, str]) -> Config:
    """The configuration from the command line and the environment; exits with a usage error (status 2) when
    anything is wrong."""
    p = parser()
    args = p.parse_args(argv)
    secret = env.get(SECRET_ENV, "")
    if len(secret) < SECRET_MIN_CHARS:
        p.error(f"{SECRET_ENV} must hold the secret shared with Salon, at least {SECRET_MIN_CHARS} characters")
    sources = frozenset(args.allow_source or ["127.0.0.1"])
    tls = None
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if args.tls_cert is not None:
        try:
            tls = server_context(args.tls_cert, args.tls_key)
        except TlsError as exc:
            p.error(str(exc))
    return Config(
        name=args.name,
        listen=args.listen,
        control=args.control,
        rtp=args.rtp,
        allow_sources=sources,
        allow_origin=args.allow_origin,
        max_listeners=args.max_listeners,
        policy=args.chunks,
        max_buffer_bytes=args.max_buffer_bytes,
        secret=secret,
        tls=tls,
    )
