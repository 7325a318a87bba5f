"""CLI layer: what ``salon doctor``'s checks (cli/doctor_checks.py) are made of — the ``Check`` verdict they return,
the ``Probes`` they read the machine through, and ``SYSTEM_PROBES``, the real ones (HTTP, disk, clock, Janus's
binary, UDP sockets, addresses, the database's schema; TURN's in cli/doctor_turn.py). Tests inject their own probes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import ipaddress
import shutil
import socket
import struct
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from salon.adapters.janus.process import JANUS_BINARY
from salon.app.schema import SchemaState, database_schema
from salon.app.settings import Settings
from salon.cli import doctor_turn

Verdict = Literal["ok", "warn", "FAIL", "skip"]

HTTP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    message: str
    fix: str = ""  # what to do, when the verdict is not ok


class Unreachable(Exception):
    """The URL did not answer from here (DNS, refused, timeout): nothing is known about it."""


class TlsRefused(Exception):
    """Something answered, but its certificate is not one a browser would trust (or not TLS at all)."""


@dataclass(frozen=True)
class Probes:
    http_status: Callable[[str], Awaitable[int]]  # GET, no redirects followed; Unreachable / TlsRefused
    disk_free: Callable[[Path], int]  # bytes free for this user where the path is (or would be)
    clock_synchronised: Callable[[], bool | None]  # None: nothing on this machine tells
    janus_version: Callable[[], str | None]  # None: not installed
    udp_bindable: Callable[[str, int, int], int]  # how many ports of host:[low, high] bind now
    schema: Callable[[Settings], Awaitable[SchemaState]]
    resolve: Callable[[str], list[str]]  # a host's IPv4 addresses; [] when it does not resolve
    local_addresses: Callable[[], list[str]]  # this machine's IPv4 addresses, loopback excluded
    coturn_installed: Callable[[], bool]
    stun_answers: Callable[[str, int], bool]  # a STUN binding request to host:port (UDP) is answered
    stun_mapped: Callable[[str, int], str | None]  # the address a STUN server sees us at; None: no answer
    port_bindable: Callable[[str, int, Literal["udp", "tcp"]], bool]
    readable: Callable[[Path], bool]  # a file this user can read


# --- the real probes ---------------------------------------------------------------------------------------------


async def _http_status(url: str) -> int:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, trust_env=False) as http:
            return (await http.get(url)).status_code
    except httpx.ConnectError as exc:
        text = str(exc)
        if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
            raise TlsRefused(text) from exc
        raise Unreachable(text or "refused") from exc
    except httpx.HTTPError as exc:
        raise Unreachable(str(exc) or type(exc).__name__) from exc


def _disk_free(path: Path) -> int:
    existing = path.absolute()
    while not existing.exists():  # not made yet: the disk it will be on
        existing = existing.parent
    return shutil.disk_usage(existing).free


TIME_ERROR = 5  # adjtimex's clock state when the kernel's clock is not synchronised (STA_UNSYNC)


def _clock_synchronised() -> bool | None:
    tool = shutil.which("timedatectl")
    if tool is not None:
        done = subprocess.run(  # noqa: S603 - fixed argv
            [tool, "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True, timeout=5, check=False
        )
        if done.returncode == 0 and done.stdout.strip() in ("yes", "no"):
            return done.stdout.strip() == "yes"
    # No systemd here (a container): the kernel's own flag, which NTP daemons clear once they discipline the clock.
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    timex = ctypes.create_string_buffer(512)  # struct timex is ~208 bytes; modes = 0 (the first field): read only
    state = libc.adjtimex(timex)
    if state < 0:
        return None
    return bool(state != TIME_ERROR)


def _janus_version() -> str | None:
    if not JANUS_BINARY.exists():
        return None
    done = subprocess.run(  # noqa: S603 - fixed argv
        [str(JANUS_BINARY), "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].removeprefix("Janus version: ") if first else "unknown version"


def _udp_bindable(host: str, low: int, high: int) -> int:
    free = 0
    for port in range(low, high + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            free += 1
    return free


def _resolve(host: str) -> list[str]:
    try:
        found = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        return []
    return sorted({str(info[4][0]) for info in found})


SIOCGIFADDR = 0x8915  # Linux: an interface's (primary) IPv4 address


def _local_addresses() -> list[str]:
    addresses: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, interface in socket.if_nameindex():
            request = struct.pack("256s", interface.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address on it
                continue
            address = socket.inet_ntoa(answer[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                addresses.add(address)
    return sorted(addresses)


SYSTEM_PROBES = Probes(
    http_status=_http_status,
    disk_free=_disk_free,
    clock_synchronised=_clock_synchronised,
    janus_version=_janus_version,
    udp_bindable=_udp_bindable,
    schema=database_schema,
    resolve=_resolve,
    local_addresses=_local_addresses,
    coturn_installed=doctor_turn.coturn_installed,
    stun_answers=doctor_turn.stun_answers,
    stun_mapped=doctor_turn.nat_stun_mapped,
    port_bindable=doctor_turn.port_bindable,
    readable=doctor_turn.readable,
)
