"""Test support: a real managed Janus (``/usr/bin/janus``) on 127.0.0.1, and the lock-down check of its config.

``managed_janus(folder)`` yields a started ``ManagedJanus``; on exit it stops it and then SIGKILLs, by PID, any
process still running with that config folder (a Janus restarted at the wrong moment, a failed test), so nothing
outlives the test. Janus must be installed (``scripts/install-system-deps.sh``); when it is not, the tests that
use it fail with that reason, they are not skipped.

``config_problems(folder)`` reads the config files back with an independent parser and lists every way they
differ from the lock-down of docs/ARCHITECTURE.md ("Running Janus"); empty means locked down.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from salon.adapters.janus.config import (
    ALLOWED_PLUGINS,
    ALLOWED_TRANSPORTS,
    CONFIG_FILES,
    ManagedJanusConfig,
    default_lib_dir,
    installed_modules,
)
from salon.adapters.janus.process import ManagedJanus, RestartHook
from tests.support.libconfig import parse_file

__all__ = ["config_problems", "is_alive", "janus_pids", "killing_leftovers", "listening_tcp", "managed_janus"]


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (killed, not yet reaped by its new parent) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the command name, which is in parentheses and may itself hold spaces or ')'.
    return stat[stat.rindex(")") + 2] not in "ZX"


def janus_pids(folder: Path) -> set[int]:
    """Live processes whose command line names ``folder`` as their config folder."""
    marker = f"--configs-folder={folder}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes().split(b"\0") and is_alive(int(entry.name)):
                pids.add(int(entry.name))
    return pids


def broadcast_pids(parent: int) -> set[int]:
    """Live broadcast workers (``python -m salon.broadcast``) that ``parent`` started."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent and b"salon.broadcast" in cmdline and is_alive(int(entry.name)):
                pids.add(int(entry.name))
    return pids


def _kill_leftovers(folder: Path) -> None:
    for pid in janus_pids(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def managed_janus(
    folder: Path,
    config: ManagedJanusConfig | None = None,
    *,
    on_restart: RestartHook | None = None,
    start_timeout: float = 10.0,
) -> AsyncIterator[ManagedJanus]:
    janus = ManagedJanus(folder, config, on_restart=on_restart, start_timeout=start_timeout)
    try:
        await janus.start()
        yield janus
    finally:
        try:
            await janus.stop()
        finally:
            _kill_leftovers(folder)


@contextlib.contextmanager
def killing_leftovers(folder: Path) -> Iterator[None]:
    """For tests that start Janus some other way: kill what runs with ``folder`` when the block ends."""
    try:
        yield
    finally:
        _kill_leftovers(folder)


def config_problems(folder: Path, lib_dir: Path | None = None) -> list[str]:
    lib = default_lib_dir() if lib_dir is None else lib_dir
    problems: list[str] = []
    files = {p.name: parse_file(p) for p in sorted(folder.glob("*.jcfg"))}
    if set(files) != set(CONFIG_FILES):
        return [f"config files {sorted(files)}, expected {sorted(CONFIG_FILES)}"]

    def expect(where: str, actual: Any, wanted: Any) -> None:
        if actual != wanted:
            problems.append(f"{where} is {actual!r}, expected {wanted!r}")

    core = files["janus.jcfg"]
    general = core.get("general", {})
    if len(general.get("api_secret", "")) < 16:
        problems.append("janus.jcfg: no api_secret")
    if general.get("admin_secret", "janusoverlord") == "janusoverlord":
        problems.append("janus.jcfg: admin_secret missing or Debian's well-known one")
    expect("janus.jcfg general.token_auth", general.get("token_auth", False), False)
    expect("janus.jcfg general.session_timeout", general.get("session_timeout"), 60)
    if not isinstance(general.get("event_loops"), int) or general["event_loops"] < 1:
        problems.append("janus.jcfg: event_loops not set")
    if general.get("debug_level", 4) > 4:
        problems.append("janus.jcfg: debug_level above 4 logs the secrets")
    media = core.get("media", {})
    expect("janus.jcfg media.ipv6", media.get("ipv6"), False)
    if "-" not in str(media.get("rtp_port_range", "")):
        problems.append("janus.jcfg: rtp_port_range not set")
    expect("janus.jcfg events.broadcast", core.get("events", {}).get("broadcast", False), False)

    installed = installed_modules(lib)
    for kind, allowed in (
        ("plugins", ALLOWED_PLUGINS),
        ("transports", ALLOWED_TRANSPORTS),
        ("events", frozenset[str]()),
        ("loggers", frozenset[str]()),
    ):
        disabled = {n.strip() for n in str(core.get(kind, {}).get("disable", "")).split(",") if n.strip()}
        loaded = set(getattr(installed, kind)) - disabled
        expect(f"{kind} that Janus would load from {lib / kind}", loaded, set(allowed) & getattr(installed, kind))
        if disabled & allowed:
            problems.append(f"{kind}: {sorted(disabled & allowed)} disabled")

    http = files["janus.transport.http.jcfg"]
    http_general = http.get("general", {})
    expect("http general.http", http_general.get("http"), True)
    expect("http general.ip", http_general.get("ip"), "127.0.0.1")
    expect("http general.https", http_general.get("https", False), False)
    for key in ("interface", "secure_port", "secure_ip", "secure_interface"):
        if key in http_general:
            problems.append(f"http general.{key} is set")
    admin = http.get("admin", {})
    expect("http admin.admin_http", admin.get("admin_http", False), False)
    expect("http admin.admin_https", admin.get("admin_https", False), False)

    for name in ("janus.plugin.audiobridge.jcfg", "janus.plugin.streaming.jcfg"):
        plugin = files[name]
        if set(plugin) != {"general"}:
            problems.append(f"{name}: sample rooms/mountpoints {sorted(set(plugin) - {'general'})}")
        if len(plugin.get("general", {}).get("admin_key", "")) < 16:
            problems.append(f"{name}: no admin_key")
        if "-" not in str(plugin.get("general", {}).get("rtp_port_range", "")):
            problems.append(f"{name}: rtp_port_range not set")
    bridge = files["janus.plugin.audiobridge.jcfg"].get("general", {})
    expect("audiobridge lock_rtp_forward", bridge.get("lock_rtp_forward"), True)
    expect("audiobridge lock_play_file", bridge.get("lock_play_file"), True)
    return problems


def listening_tcp(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs on which process ``pid`` listens for TCP, read from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
            found.add((str(ipaddress.ip_address(words)), int(port, 16)))
    return found
