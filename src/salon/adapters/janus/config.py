"""Adapters layer: the locked-down configuration of a Janus that Salon runs itself (``janus -F <folder>``).

Debian's janus 1.1.2 lacks the 2024–2026 upstream security fixes, so the node must stay private: only the HTTP
transport, bound to 127.0.0.1, with an ``api_secret``; no admin API; only the AudioBridge and Streaming plugins, both
behind an ``admin_key`` (``lock_rtp_forward`` and ``lock_play_file`` on); no sample rooms or mountpoints; no event
handlers or external loggers; IPv4 only; fixed RTP port ranges.

Every module file Janus would load is disabled by name: the denylist is the union of the modules Debian's 1.1.2
ships and whatever is installed at the time, so a module added later by a package upgrade stays off.

``render_config`` is pure (settings in, file texts out); ``write_config`` puts them in a private folder (0700,
files 0600: they hold the secrets, which are never put on Janus's command line, where ``ps`` would show them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "ALLOWED_PLUGINS",
    "ALLOWED_TRANSPORTS",
    "CONFIG_FILES",
    "KNOWN_MODULES",
    "JanusModules",
    "ManagedJanusConfig",
    "config_folder",
    "default_lib_dir",
    "installed_modules",
    "render_config",
    "write_config",
]

ALLOWED_PLUGINS = frozenset({"libjanus_audiobridge.so", "libjanus_streaming.so"})
ALLOWED_TRANSPORTS = frozenset({"libjanus_http.so"})

CONFIG_FILES = (
    "janus.jcfg",
    "janus.transport.http.jcfg",
    "janus.plugin.audiobridge.jcfg",
    "janus.plugin.streaming.jcfg",
)

# Janus 1.1.2 refuses nothing it finds: every *.so in these folders is loaded unless listed under `disable`.
_MODULE_KINDS = ("plugins", "transports", "events", "loggers")

# Folders a plugin may never write to (recordings), Debian's list; the config folder is added to it.
_PROTECTED_FOLDERS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
)

# Above 4 (info), Janus prints every configuration file it reads, secrets included.
MAX_DEBUG_LEVEL = 4

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}\Z")  # an IPv4 literal or a DNS name
_INTERFACE_LIST = re.compile(r"[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*\Z")


@dataclasses.dataclass(frozen=True)
class JanusModules:
    """Module file names (``libjanus_*.so``) per folder."""

    plugins: frozenset[str] = frozenset()
    transports: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    loggers: frozenset[str] = frozenset()

    def __or__(self, other: JanusModules) -> JanusModules:
        return JanusModules(*(getattr(self, k) | getattr(other, k) for k in _MODULE_KINDS))


# What Debian's janus 1.1.2 ships (`dpkg -L janus`), upstream's full set for that version.
KNOWN_MODULES = JanusModules(
    plugins=frozenset(
        f"libjanus_{n}.so"
        for n in (
            "audiobridge",
            "duktape",
            "echotest",
            "lua",
            "nosip",
            "recordplay",
            "sip",
            "streaming",
            "textroom",
            "videocall",
            "videoroom",
            "voicemail",
        )
    ),
    transports=frozenset(f"libjanus_{n}.so" for n in ("http", "mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")),
    events=frozenset(
        f"libjanus_{n}.so" for n in ("gelfevh", "mqttevh", "nanomsgevh", "rabbitmqevh", "sampleevh", "wsevh")
    ),
    loggers=frozenset({"libjanus_jsonlog.so"}),
)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _cores() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class ManagedJanusConfig:
    """What may vary between managed Janus nodes; everything else is fixed by ``render_config``.

    ``http_port`` 0 means "not chosen yet": ``ManagedJanus`` picks a free loopback port; ``render_config`` refuses
    it. ``rtp_port_range`` is for WebRTC (ICE) sockets — the UDP range a firewall must open. ``plugin_port_range``
    is for the plain-RTP sockets the plugins bind (Streaming mountpoint inputs fed by the AudioBridge's
    ``rtp_forward``); it must not overlap the first one (Janus's own advice). ``interface`` is the address put in
    SDP (e.g. ``198.18.0.1`` inside a test network namespace); ``ice_enforce_list`` the only interfaces ICE uses.
    """

    http_port: int = 0
    api_secret: str = dataclasses.field(default_factory=_new_secret, repr=False)
    admin_key: str = dataclasses.field(default_factory=_new_secret, repr=False)
    rtp_port_range: tuple[int, int] = (20000, 39999)
    plugin_port_range: tuple[int, int] = (40000, 40999)
    event_loops: int = dataclasses.field(default_factory=_cores)
    interface: str | None = None
    ice_enforce_list: str | None = None
    debug_level: int = 4
    server_name: str = "salon"
    # Behind a 1:1 NAT (a cloud VM): the public IPv4 address(es) put in place of the private host candidates
    # (``keep_private_host`` keeps both), or a STUN server Janus asks for its public address when it is not known.
    nat_1_1_mapping: tuple[str, ...] = ()
    keep_private_host: bool = False
    stun_server: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.http_port <= 65535:
            raise ValueError(f"http_port {self.http_port} is not a TCP port")
        for name in ("api_secret", "admin_key"):
            if len(getattr(self, name)) < 16:
                raise ValueError(f"{name} must be at least 16 characters")
        for name in ("rtp_port_range", "plugin_port_range"):
            low, high = getattr(self, name)
            if not 1024 <= low <= high <= 65535:
                raise ValueError(f"{name} {low}-{high} is not a range of unprivileged ports")
        (a_low, a_high), (b_low, b_high) = self.rtp_port_range, self.plugin_port_range
        if a_low <= b_high and b_low <= a_high:
            raise ValueError("rtp_port_range and plugin_port_range overlap")
        if self.event_loops < 1:
            raise ValueError("event_loops must be at least 1")
        if not 0 <= self.debug_level <= MAX_DEBUG_LEVEL:
            raise ValueError(f"debug_level must be 0-{MAX_DEBUG_LEVEL}: higher levels write the secrets to the log")
        if self.interface is not None and ipaddress.ip_address(self.interface).version != 4:
            raise ValueError("interface must be an IPv4 address (IPv6 is off)")
        if self.ice_enforce_list is not None and not _INTERFACE_LIST.match(self.ice_enforce_list):
            raise ValueError("ice_enforce_list must be a comma-separated list of interface names or addresses")
        for address in self.nat_1_1_mapping:
            if ipaddress.ip_address(address).version != 4:
                raise ValueError("nat_1_1_mapping must hold IPv4 addresses (IPv6 is off)")
        if self.keep_private_host and not self.nat_1_1_mapping:
            raise ValueError("keep_private_host only means something with a nat_1_1_mapping")
        if self.stun_server is not None:
            host, port = self.stun_server
            if not _HOST.match(host) or not 1 <= port <= 65535:
                raise ValueError(f"stun_server {host}:{port} is not HOST:PORT")


def config_folder(data_dir: Path) -> Path:
    """Where the managed Janus keeps its config and log: beside the app's other secrets, in the data folder.

    Not ``/etc/janus`` (Debian's stock config, root's) nor a temporary folder (it could vanish under a running Janus).
    """
    return (data_dir / "janus").absolute()  # Janus runs in this folder: a relative path would not resolve


def default_lib_dir() -> Path:
    """Where the distribution put Janus's module folders (Debian: ``/usr/lib/<multiarch>/janus``)."""
    candidates = sorted(Path("/usr/lib").glob("*/janus/plugins"))
    candidates += [Path("/usr/lib/janus/plugins"), Path("/usr/local/lib/janus/plugins")]
    for plugins in candidates:
        if plugins.is_dir():
            return plugins.parent
    raise FileNotFoundError("Janus's plugins folder was not found; install Janus (scripts/install-system-deps.sh)")


def installed_modules(lib_dir: Path) -> JanusModules:
    """The module files Janus would load from ``lib_dir``: its loader takes every name ending in ``.so``."""

    def names(kind: str) -> frozenset[str]:
        folder = lib_dir / kind
        if not folder.is_dir():
            return frozenset()
        return frozenset(p.name for p in folder.iterdir() if p.name.endswith(".so"))

    return JanusModules(*(names(kind) for kind in _MODULE_KINDS))


# --- a libconfig writer: the subset Janus's .jcfg files use -------------------------------------------------------

Value = str | bool | int | tuple[str, ...]
Section = Mapping[str, Value]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _quote(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Value) -> str:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    return "[" + ", ".join(_quote(item) for item in value) + "]"


def _render(sections: Mapping[str, Section]) -> str:
    lines = ["# Written by Salon at every start; edits are lost. See docs/ARCHITECTURE.md."]
    for name, settings in sections.items():
        if not _NAME.match(name):
            raise ValueError(f"invalid libconfig group name {name!r}")
        lines.append(f"{name}: {{")
        for key, value in settings.items():
            if not _NAME.match(key):
                raise ValueError(f"invalid libconfig setting name {key!r}")
            lines.append(f"\t{key} = {_value(value)}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _disable(names: Iterable[str]) -> str:
    return ",".join(sorted(names))


def render_config(
    config: ManagedJanusConfig, *, config_dir: Path, lib_dir: Path, modules: JanusModules
) -> dict[str, str]:
    """The text of every file in the config folder, by file name. ``modules`` are those installed in ``lib_dir``."""
    if config.http_port == 0:
        raise ValueError("choose http_port before rendering the config")
    every = modules | KNOWN_MODULES
    general: dict[str, Value] = {
        "configs_folder": str(config_dir),
        "plugins_folder": str(lib_dir / "plugins"),
        "transports_folder": str(lib_dir / "transports"),
        "events_folder": str(lib_dir / "events"),
        "loggers_folder": str(lib_dir / "loggers"),
        "debug_level": config.debug_level,
        "debug_timestamps": True,
        "debug_colors": False,
        "api_secret": config.api_secret,
        # The admin API is off; an unguessable secret still replaces Debian's well-known "janusoverlord".
        "admin_secret": hashlib.sha256(b"salon-janus-admin:" + config.api_secret.encode()).hexdigest(),
        "token_auth": False,
        "server_name": config.server_name,
        "session_timeout": 60,
        "event_loops": config.event_loops,
        "allow_loop_indication": False,
        "hide_dependencies": True,
        "protected_folders": (*_PROTECTED_FOLDERS, str(config_dir)),
    }
    if config.interface is not None:
        general["interface"] = config.interface
    nat: dict[str, Value] = {"nice_debug": False}
    if config.ice_enforce_list is not None:
        nat["ice_enforce_list"] = config.ice_enforce_list
    if config.nat_1_1_mapping:
        nat["nat_1_1_mapping"] = ",".join(config.nat_1_1_mapping)
        nat["keep_private_host"] = config.keep_private_host
    if config.stun_server is not None:
        nat["stun_server"], nat["stun_port"] = config.stun_server
    core: dict[str, Section] = {
        "general": general,
        "certificates": {},
        "media": {
            "ipv6": False,
            "ipv6_linklocal": False,
            "rtp_port_range": "{}-{}".format(*config.rtp_port_range),
        },
        "nat": nat,
        "plugins": {"disable": _disable(every.plugins - ALLOWED_PLUGINS)},
        "transports": {"disable": _disable(every.transports - ALLOWED_TRANSPORTS)},
        "loggers": {"disable": _disable(every.loggers)},
        "events": {"broadcast": False, "disable": _disable(every.events)},
    }
    http: dict[str, Section] = {
        "general": {
            "events": False,
            "json": "compact",
            "base_path": "/janus",
            "http": True,
            "port": config.http_port,
            "ip": "127.0.0.1",
            "acl": "127.0.0.1",
            "https": False,
        },
        "admin": {"admin_http": False, "admin_https": False},
        "cors": {},
        "certificates": {},
    }
    plugin_ports = "{}-{}".format(*config.plugin_port_range)
    # Only `general`: any other group would be a static room or mountpoint.
    audiobridge: dict[str, Section] = {
        "general": {
            "admin_key": config.admin_key,
            "lock_rtp_forward": True,
            "lock_play_file": True,
            "events": False,
            "rtp_port_range": plugin_ports,
            # Plain-RTP participants (unused by Salon) could only ever come from this machine.
            "local_ip": "127.0.0.1",
        }
    }
    streaming: dict[str, Section] = {
        "general": {"admin_key": config.admin_key, "events": False, "rtp_port_range": plugin_ports}
    }
    return {
        "janus.jcfg": _render(core),
        "janus.transport.http.jcfg": _render(http),
        "janus.plugin.audiobridge.jcfg": _render(audiobridge),
        "janus.plugin.streaming.jcfg": _render(streaming),
    }


def write_config(config: ManagedJanusConfig, config_dir: Path, *, lib_dir: Path | None = None) -> None:
    """(Re)write the folder for ``janus -F config_dir``: private (0700), files 0600, nothing else in it.

    Rewritten at every start, so rooms a plugin saved with ``permanent: true`` are gone: the database, not Janus,
    holds what should exist.
    """
    lib = default_lib_dir() if lib_dir is None else lib_dir
    files = render_config(config, config_dir=config_dir, lib_dir=lib, modules=installed_modules(lib))
    config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_dir.chmod(0o700)
    for stale in config_dir.glob("*.jcfg"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        tmp = config_dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(text)
        os.replace(tmp, config_dir / name)
