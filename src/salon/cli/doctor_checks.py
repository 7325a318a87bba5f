"""CLI layer: the checks of ``salon doctor`` — each a verdict (ok, warn, FAIL, skip) with what to do about it.

A check is a function of the settings and the ``Probes``, the only place that touches the machine (HTTP, disk,
clock, Janus's binary, UDP sockets, the database; cli/doctor_probes.py). Tests inject probes and check every
verdict; ``SYSTEM_PROBES`` are the real ones. ``CHECKS`` is the ordered list ``salon doctor`` runs; a new check is
one more function of the same shape, with its probe added to ``Probes`` (``check_nat`` and its ``resolve`` /
``local_addresses`` are one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlsplit

from salon.adapters.janus.config import ManagedJanusConfig
from salon.adapters.janus.process import JANUS_BINARY
from salon.adapters.turn.process import TURN_BINARY
from salon.app.settings import DEFAULT_SECRET, Settings
from salon.cli import doctor_turn
from salon.cli.doctor_probes import SYSTEM_PROBES, Check, Probes, TlsRefused, Unreachable, Verdict
from salon.domain.turn import check_ice_url

# Re-exported: ``salon doctor`` and the tests take the check's parts from here, with the checks.
__all__ = [
    "CHECKS",
    "SYSTEM_PROBES",
    "Check",
    "CheckFn",
    "Probes",
    "TlsRefused",
    "Unreachable",
    "Verdict",
    "run_checks",
]

SECRET_MIN_CHARS = 32
SECRET_MIN_DISTINCT = 12  # 32 characters from a generator have ~25 distinct ones; "k" * 48 has one
DISK_WARN_BYTES = 1024**3  # below: a few days of growth, a backup or a Janus log may fill it
DISK_FAIL_BYTES = 200 * 1024**2  # below: SQLite cannot be trusted to finish a write, nor a backup
UDP_WARN_SHARE = 0.9  # Janus picks random ports in its range: a few taken ones are skipped, many make ICE fail
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


CheckFn = Callable[[Settings, Probes], Awaitable[Check]]


async def check_secret_key(settings: Settings, probes: Probes) -> Check:
    name = "secret key"
    fix = "put 48 random characters in a file only salon reads and set SALON_SECRET_KEY_FILE (salon.env.example)"
    if not settings.secret_key:
        generated = settings.data_dir / "secret_key"
        if generated.exists():
            return Check(name, "ok", f"generated at first start, kept in {generated}")
        return Check(name, "warn", f"none set: the first start generates {generated}", fix)
    if settings.secret_key == DEFAULT_SECRET:
        return Check(name, "FAIL", "the placeholder 'change-me' (accepted in --dev only)", fix)
    if len(settings.secret_key) < SECRET_MIN_CHARS:
        return Check(name, "FAIL", f"{len(settings.secret_key)} characters: at least {SECRET_MIN_CHARS}", fix)
    if len(set(settings.secret_key)) < SECRET_MIN_DISTINCT:
        return Check(name, "FAIL", f"weak: only {len(set(settings.secret_key))} distinct characters", fix)
    path = settings.secret_key_file
    if path is not None and path.stat().st_mode & 0o004:
        return Check(name, "warn", f"{path} is readable by every user", f"chmod o-rwx {path}")
    return Check(name, "ok", "set" + (f" (from {path})" if path is not None else ""))


def _is_public(url: str) -> bool:
    """A real deployment's URL: a global address or a name that is not this machine's."""
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return host not in LOCAL_HOSTS and not host.endswith((".localhost", ".local"))


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOCAL_HOSTS


async def check_tls(settings: Settings, probes: Probes) -> Check:
    name = "TLS"
    if settings.https:
        return Check(name, "ok", f"public URL {settings.public_url} is https")
    fix = "put the HTTPS proxy in front (docs/DEPLOYMENT.md section 2) and set SALON_PUBLIC_URL=https://..."
    if _is_local(settings.public_url):
        return Check(name, "warn", f"public URL {settings.public_url} is plain http: fine on this machine only", fix)
    return Check(name, "FAIL", f"public URL {settings.public_url} is plain http: browsers refuse the microphone", fix)


async def check_public_url(settings: Settings, probes: Probes) -> Check:
    name = "public URL answers"
    base = settings.public_url.rstrip("/")
    try:
        status = await probes.http_status(f"{base}/healthz")
        if status == 404:  # an older Salon, or the route is not there: the home page says as much
            status = await probes.http_status(f"{base}/")
    except Unreachable as exc:
        return Check(name, "skip", f"{base} is not reachable from here ({exc}): check it from outside, "
                     f"e.g. curl -I {base}/")  # fmt: skip
    except TlsRefused as exc:
        fix = "a certificate for this name from a public CA: the proxy's ACME (docs/DEPLOYMENT.md section 2)"
        return Check(name, "FAIL", f"{base}: the certificate is refused ({exc})", fix)
    if status < 400:
        return Check(name, "ok", f"{base} answers {status}")
    if status in (502, 503, 504):
        return Check(name, "FAIL", f"{base} answers {status}: the proxy is up, Salon behind it is not",
                     "systemctl status salon; journalctl -u salon")  # fmt: skip
    return Check(name, "FAIL", f"{base} answers {status}", "check the proxy's configuration (section 2)")


async def check_disk(settings: Settings, probes: Probes) -> Check:
    name = "disk"
    free = probes.disk_free(settings.data_dir)
    shown = f"{free / 1024**3:.1f} GB free for {settings.data_dir}"
    fix = "free space or grow the disk: the database, avatars and backups live there"
    if free < DISK_FAIL_BYTES:
        return Check(name, "FAIL", shown, fix)
    if free < DISK_WARN_BYTES:
        return Check(name, "warn", shown, fix)
    return Check(name, "ok", shown)


async def check_clock(settings: Settings, probes: Probes) -> Check:
    name = "clock"
    synced = probes.clock_synchronised()
    if synced is None:
        return Check(name, "skip", "nothing here says whether the clock is synchronised (no timedatectl, no adjtimex)")
    if synced:
        return Check(name, "ok", "synchronised (NTP)")
    return Check(name, "warn", "not synchronised: tickets, invites and sessions expire by this clock",
                 "enable time sync: apt install systemd-timesyncd (or chrony)")  # fmt: skip


async def check_janus(settings: Settings, probes: Probes) -> Check:
    name = "Janus"
    if not settings.managed_janus:
        return Check(name, "skip", "external Janus nodes (SALON_JANUS_URL / SALON_JANUS_NODES): not run here")
    version = probes.janus_version()
    if version is None:
        return Check(name, "FAIL", f"{JANUS_BINARY} is not installed", "sudo apt install janus")
    return Check(name, "ok", f"installed: {version}")


async def check_database(settings: Settings, probes: Probes) -> Check:
    name = "database"
    try:
        state = await probes.schema(settings)
    except Exception as exc:  # the driver's own errors: refused, auth, unknown database
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return Check(name, "FAIL", f"not reachable: {reason}", "check SALON_DATABASE_URL and that the server runs")
    if not state.exists:
        return Check(name, "warn", "no database yet", "salon migrate (or the first salon serve) creates it")
    if not state.known:
        return Check(name, "FAIL", f"at revision {state.current}, which this code does not know (newer code?)",
                     "run the Salon version that made it, or restore a backup (section 6)")  # fmt: skip
    if state.current != state.head:
        return Check(name, "warn", f"at revision {state.current}, this code's is {state.head}",
                     "salon migrate (salon serve applies them at start)")  # fmt: skip
    return Check(name, "ok", f"reachable, migrations current ({state.head})")


async def check_udp_ports(settings: Settings, probes: Probes) -> Check:
    name = "UDP ports"
    if not settings.managed_janus:
        return Check(name, "skip", "external Janus nodes: check their own port ranges")
    low, high = ManagedJanusConfig.rtp_port_range
    total = high - low + 1
    free = probes.udp_bindable("0.0.0.0", low, high)  # noqa: S104 - Janus's media sockets bind every interface
    shown = f"{free} of {total} in {low}-{high} (Janus's media) bind here"
    firewall = f"the firewall must let UDP {low}-{high} in"
    if free == 0:
        return Check(name, "FAIL", shown, "another program holds the range: find it with ss -ulpn")
    if free < UDP_WARN_SHARE * total:
        return Check(name, "warn", shown + " (is Salon running? its Janus holds some)", firewall)
    return Check(name, "ok", f"{shown}; {firewall}")


async def check_nat(settings: Settings, probes: Probes) -> Check:
    """Would the addresses Janus advertises in ICE be the one people reach? A 1:1 NAT (a cloud VM) hides the
    public address from the machine: without ``SALON_JANUS_NAT_1_1`` (or STUN) Janus offers only private ones."""
    name = "NAT"
    if not settings.managed_janus:
        return Check(name, "skip", "external Janus nodes: their own nat_1_1_mapping applies")
    seen = None
    if settings.stun_host_port is not None:
        seen = probes.stun_mapped(*settings.stun_host_port)
        if seen is None:  # Janus 1.1.2 tests the server once at start and exits when it does not answer
            return Check(name, "FAIL", f"the STUN server {settings.stun_server} does not answer from here: Janus "
                         "will not start", "fix SALON_STUN_SERVER (and let UDP to it out), or set "
                         "SALON_JANUS_NAT_1_1 instead (docs/DEPLOYMENT.md section 3)")  # fmt: skip
    host = urlsplit(settings.public_url).hostname or ""
    public = probes.resolve(host)
    if not public:
        return Check(name, "skip", f"{host!r} does not resolve to an IPv4 address from here")
    if any(ipaddress.ip_address(a).is_loopback for a in public):
        return Check(name, "skip", f"the public URL is on this machine ({host}): no NAT to cross")
    shown = ", ".join(public)
    mapped = [str(a) for a in settings.janus_nat_1_1]
    if mapped:
        if set(mapped) & set(public):
            return Check(name, "ok", f"Janus advertises {', '.join(mapped)}, the address of {host}")
        return Check(name, "warn", f"Janus advertises {', '.join(mapped)}, but {host} is {shown}",
                     "fine if the web proxy has its own address; else fix SALON_JANUS_NAT_1_1")  # fmt: skip
    own = [settings.janus_interface] if settings.janus_interface else probes.local_addresses()
    if set(own) & set(public):
        return Check(name, "ok", f"{host} is {shown}, an address of this machine: Janus advertises it")
    if seen is not None:
        stun = f"the STUN server {settings.stun_server} sees this machine as {seen or 'nothing'}"
        if seen in public:
            return Check(name, "ok", f"{stun}, the address of {host}: Janus advertises it")
        return Check(name, "warn", f"{stun}, but {host} is {shown}",
                     "fine if the web proxy has its own address; else set SALON_JANUS_NAT_1_1")  # fmt: skip
    message = (
        f"Janus would advertise only {', '.join(own) or 'no address'} while {host} is {shown} "
        "(this machine is behind a NAT): listeners outside would get no sound"
    )
    fix = f"set SALON_JANUS_NAT_1_1={public[0]} (the NAT's public address; docs/DEPLOYMENT.md section 3)"
    return Check(name, "FAIL", message, fix)


async def check_turn(settings: Settings, probes: Probes) -> Check:
    """A relay for members whose own network blocks UDP (offices, some mobile carriers). Not the NAT check's concern:
    that one is about the server's address; TURN is about the member's network."""
    name = "TURN"
    guide = "docs/DEPLOYMENT.md section 3"
    if settings.turn == "off":
        message = "off: members behind networks that block UDP get no sound"
        if _is_public(settings.public_url):
            return Check(name, "warn", message, f"SALON_TURN=managed (or external): {guide}")
        return Check(name, "skip", message + " (fine off the internet)")
    if settings.turn == "external":
        return _check_external_turn(settings)
    if not probes.coturn_installed():
        return Check(name, "FAIL", f"SALON_TURN=managed but {TURN_BINARY} is not installed", "sudo apt install coturn")
    for path in (settings.turn_tls_cert, settings.turn_tls_key):
        if path is not None and not probes.readable(path):
            return Check(name, "FAIL", f"{path} is not readable by this user",
                         "give the service's user read access (the proxy's certificate, copied or shared)")  # fmt: skip
    host = "127.0.0.1" if settings.turn_listen_ip == "0.0.0.0" else settings.turn_listen_ip  # noqa: S104
    port = settings.turn_port
    firewall = f"the firewall must let UDP and TCP {port} and UDP {settings.turn_relay_ports} in"
    if probes.stun_answers(host, port):
        return _unless_media_unreached(settings, probes, f"coturn answers STUN on {host}:{port}; {firewall}")
    ports: list[tuple[int, Literal["udp", "tcp"]]] = [(port, "udp"), (port, "tcp")]
    if settings.turn_tls_port is not None:
        ports.append((settings.turn_tls_port, "tcp"))
    held = [f"{transport.upper()} {p}" for p, transport in ports
            if not probes.port_bindable(settings.turn_listen_ip, p, transport)]  # fmt: skip
    if held:
        return Check(name, "FAIL", f"{', '.join(held)} cannot be bound here and no STUN answers on {port}",
                     "another program holds it (ss -ulpn; ss -tlpn), or a port < 1024 needs a capability")  # fmt: skip
    return _unless_media_unreached(
        settings, probes, f"coturn installed, port {port} free for it (salon serve starts it); {firewall}"
    )


def _unless_media_unreached(settings: Settings, probes: Probes, ok: str) -> Check:
    unreached = doctor_turn.unreached_media(settings, probes.resolve)
    if not unreached:
        return Check("TURN", "ok", ok)
    return Check("TURN", "warn", f"the relay may not reach Janus node {', '.join(unreached)}: private addresses "
                 "the managed coturn denies", "set SALON_TURN_MEDIA_PEERS to every node's media address "
                 "(docs/DEPLOYMENT.md section 3)")  # fmt: skip


def _check_external_turn(settings: Settings) -> Check:
    name = "TURN"
    for url in settings.turn_urls:
        try:
            check_ice_url(url, turn=True)
        except ValueError as exc:
            return Check(name, "FAIL", str(exc), "fix SALON_TURN_URLS (turn:host:port?transport=udp|tcp)")
    if not settings.turn_urls or not settings.turn_secret:
        return Check(name, "FAIL", "SALON_TURN=external needs SALON_TURN_URLS and SALON_TURN_SECRET",
                     "set both: the URLs of your coturn and its static-auth-secret")  # fmt: skip
    shown = ", ".join(settings.turn_urls)
    return Check(name, "ok", f"your coturn at {shown}, a secret set (check it answers from outside)")


CHECKS: tuple[CheckFn, ...] = (
    check_secret_key,
    check_tls,
    check_public_url,
    check_disk,
    check_clock,
    check_janus,
    check_database,
    check_udp_ports,
    check_nat,
    check_turn,
)


async def run_checks(settings: Settings, probes: Probes, checks: tuple[CheckFn, ...] = CHECKS) -> list[Check]:
    return [await check(settings, probes) for check in checks]
