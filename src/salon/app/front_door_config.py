"""App layer: the HAProxy configuration of the front door that spreads HTTP and WebSocket connections over several
``salon serve`` instances (docs/DEPLOYMENT.md, "Several instances behind a front door"; ``salon front-door-config``).

Pure text from a :class:`FrontDoor` (no I/O): one frontend on ``bind`` that passes every request (pages, API,
WebSockets) to one backend of the instances, balanced by ``leastconn`` (a WebSocket lives for hours: round robin
would count connections made, not connections held) and health-checked on ``GET /readyz``; a stats page and a
``/healthz`` of the front door itself on a loopback-only listener. TLS is not here: nginx keeps it (section 2 of
DEPLOYMENT.md) and passes to this front door (docs/ARCHITECTURE.md, "Several instances: the front door").
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Once a WebSocket is upgraded HAProxy applies `timeout tunnel` to it, in both directions: as long as nginx's own
# (app/proxy_config.LONG_TIMEOUT), so that a quiet room is never cut by either proxy. The app pings its clients
# every few seconds anyway.
TUNNEL_TIMEOUT = "1h"
# Plain HTTP: no Salon request takes this long (uvicorn's graceful stop gives requests 5 s).
SERVER_TIMEOUT = "30s"
DEFAULT_BIND = "127.0.0.1:8000"  # where `salon proxy-config` (SALON_PORT's default) sends nginx's traffic
DEFAULT_STATS = "127.0.0.1:8404"
DEFAULT_CHECK_INTERVAL_MS = 2000
# /readyz gives each of its checks (database, media plane) 2 s (app/health.CHECK_TIMEOUT_S): a slower answer is a
# failure. Without `timeout check` HAProxy would time a check out after `inter` (short in the tests).
CHECK_TIMEOUT = "3s"
FALL = 3  # failed checks in a row before an instance is out: one slow answer is not a dead instance
RISE = 2  # good checks in a row before it is back
DEFAULT_MAXCONN = 20_000  # connections at once (two file descriptors each); HAProxy raises its limit as root
INSTANCE_HEADER = "X-Salon-Instance"

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


class FrontDoorConfigError(ValueError):
    """The addresses given cannot make a working front door; the message says which and why."""


def address(text: str, what: str) -> str:
    """``HOST:PORT`` as HAProxy takes it (an IPv4 address, ``[v6]`` or a DNS name; a port from 1 to 65535)."""
    host, colon, port = text.strip().rpartition(":")
    if not colon or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise FrontDoorConfigError(f"{what} {text!r}: give HOST:PORT with a port from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise FrontDoorConfigError(f"{what} {text!r}: {host} is not an IPv6 address") from None
    elif _HOSTNAME.fullmatch(host) is None:
        raise FrontDoorConfigError(f"{what} {text!r}: {host!r} is not an IPv4 address, [IPv6] or a host name")
    return f"{host}:{int(port)}"


def is_loopback(text: str) -> bool:
    host = text.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FrontDoor:
    """What the configuration needs: the instances' ``HOST:PORT`` in order (named ``salon-1``, ``salon-2``, …),
    where the front door listens, its loopback stats listener, the health-check interval, and the user it drops to
    (``None``: it stays whoever starts it, e.g. a test)."""

    instances: tuple[str, ...]
    bind: str = DEFAULT_BIND
    stats: str = DEFAULT_STATS
    check_interval_ms: int = DEFAULT_CHECK_INTERVAL_MS
    maxconn: int = DEFAULT_MAXCONN
    run_as: str | None = "haproxy"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"salon-{i}" for i in range(1, len(self.instances) + 1))


def front_door(
    instances: list[str],
    *,
    bind: str = DEFAULT_BIND,
    stats: str = DEFAULT_STATS,
    check_interval_ms: int = DEFAULT_CHECK_INTERVAL_MS,
    maxconn: int = DEFAULT_MAXCONN,
    run_as: str | None = "haproxy",
) -> FrontDoor:
    """A checked :class:`FrontDoor`: every address well formed, no instance twice, the stats on loopback only."""
    if not instances:
        raise FrontDoorConfigError("no instance: give each `salon serve` as --instance HOST:PORT")
    checked = tuple(address(text, "--instance") for text in instances)
    twice = sorted({a for a in checked if checked.count(a) > 1})
    if twice:
        raise FrontDoorConfigError(f"--instance {', '.join(twice)} given twice: each instance once")
    stats_at = address(stats, "--stats")
    if not is_loopback(stats_at):
        raise FrontDoorConfigError(
            f"--stats {stats}: the stats listener shows every instance's address and state; keep it on loopback "
            "(127.0.0.1:PORT) and reach it over ssh"
        )
    bind_at = address(bind, "--bind")
    if bind_at == stats_at or bind_at in checked or stats_at in checked:
        raise FrontDoorConfigError("--bind, --stats and each --instance must be different addresses")
    if run_as is not None and not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", run_as):
        raise FrontDoorConfigError(f"--run-as {run_as!r} is not a user name")
    return FrontDoor(checked, bind_at, stats_at, check_interval_ms, maxconn, run_as)


def render(door: FrontDoor) -> str:
    """The whole ``haproxy.cfg`` for ``door``."""
    inter = door.check_interval_ms
    out = [
        f"# Salon's front door: {len(door.instances)} instance(s) of `salon serve`. `salon front-door-config` printed",
        "# this; save it as /etc/haproxy/haproxy.cfg, then `haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl",
        "# reload haproxy`. Print it again when an instance is added or removed.",
        "# Each instance needs the front door's address in SALON_TRUSTED_PROXIES (and 127.0.0.1 when nginx runs on the",
        "# front door's box), the same SALON_DATABASE_URL (PostgreSQL), SALON_REDIS_URL and SALON_SECRET_KEY.",
        "global",
        "    log stdout format raw local0 notice  # instances going down and up; no line per request",
        f"    maxconn {door.maxconn}",
    ]
    if door.run_as is not None:
        out += [
            "    chroot /var/lib/haproxy",
            f"    user {door.run_as}",
            f"    group {door.run_as}",
        ]
    out += [
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    timeout connect 5s",
        "    timeout http-request 10s  # a client that sends its request headers slowly holds no connection long",
        "    timeout http-keep-alive 10s",
        f"    timeout client {SERVER_TIMEOUT}",
        f"    timeout server {SERVER_TIMEOUT}",
        f"    timeout tunnel {TUNNEL_TIMEOUT}  # an upgraded WebSocket: as nginx's proxy_read_timeout",
        "    timeout client-fin 30s",
        "    timeout queue 10s",
        f"    timeout check {CHECK_TIMEOUT}  # /readyz waits up to 2 s on each of its own checks",
        "    # A connection refused by an instance that has just died (before the checks see it) is tried again,",
        "    # on another instance: a reconnecting client never meets the dead one.",
        "    retries 3",
        "    option redispatch 1",
        "",
        "frontend salon",
        f"    bind {door.bind}",
        "    # The peer's address appended to X-Forwarded-For (nginx's line, if any, is kept before it): salon serve",
        "    # takes the right-most address its SALON_TRUSTED_PROXIES did not write (web/client_address.py).",
        "    option forwardfor",
        "    default_backend instances",
        "",
        "backend instances",
        "    # WebSockets live for hours: the instance holding the fewest connections gets the next one.",
        "    balance leastconn",
        "    option httpchk GET /readyz  # 200 when the database and the media plane answer (503 otherwise)",
        "    http-check expect status 200",
        "    # Which instance answered: the web app and the tests can tell where a WebSocket landed.",
        f"    http-response set-header {INSTANCE_HEADER} %[srv_name]",
        # A failed check takes the instance out of rotation for new connections only: no `on-marked-down
        # shutdown-sessions`. Checks fail together when the database blips or the box is busy, and cutting every
        # session then turned a slow moment into a 502 for every request in flight (measured: docs/ARCHITECTURE.md).
        # A client of an instance that vanished without a reset finds out by itself (the web app's heartbeat).
        "    # A failed check stops new connections to the instance; those it holds stay (docs/ARCHITECTURE.md).",
        f"    default-server check inter {inter}ms fastinter {max(inter // 2, 100)}ms downinter {inter}ms"
        f" fall {FALL} rise {RISE}",
        *(f"    server {name} {at}" for name, at in zip(door.names, door.instances, strict=True)),
        "",
        "# The front door's own state, on loopback only: every instance up or down (/, or /;csv), and /healthz for",
        "# whatever checks that HAProxy itself runs.",
        "frontend stats",
        f"    bind {door.stats}",
        "    monitor-uri /healthz",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 10s",
        "",
    ]
    return "\n".join(out)
