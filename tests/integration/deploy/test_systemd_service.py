"""deploy/systemd/salon.service run for real: under systemd as PID 1 (a container booting this machine's own tree,
tests/support/nspawn.py), installed by the commands of docs/DEPLOYMENT.md section 4, read from the document itself.

* ``systemctl enable --now salon`` starts it; ``/readyz`` answers 200 (Janus, a child, started under the unit's
  hardening); Janus, both broadcast workers and the main process run with the seccomp filter, no capability and
  ``NoNewPrivs`` (the hardening is in force, not ignored); the journal holds the one-time admin invite.
* After an edit of /etc/salon/salon.env (no proxy here: the public URL is the app itself; the managed coturn on)
  and a ``systemctl restart``, the first member signs up with that invite, invites a second one, and a listener
  hears a speaker's 440 Hz through the service's Janus; the managed coturn listens.
* ``systemctl stop`` ends it within seconds with ``Result=success``, exit status 0 and nothing SIGKILLed; it
  starts again.

The container has no network to install from: /opt/salon is a copy of this checkout and its .venv is made with
Debian's python3 (a venv of a Python under /root or /home, e.g. pyenv's, cannot start under the unit), with the
dependencies of the venv running this test on its path (same CPython 3.11 ABI) and the ``salon`` script pip writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest

from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from salon.domain.api_paths import API_PREFIX
from tests.support.netns import NetNamespace, network_namespace
from tests.support.nspawn import Container, booted

REPO: Final = Path(__file__).resolve().parents[3]
CHECKOUT: Final = "/mnt/salon-checkout"  # this checkout, read-only, in the container
DEPS: Final = "/mnt/salon-deps"  # this venv's site-packages, read-only, in the container
BASE: Final = "http://127.0.0.1:8000"  # SALON_HOST/SALON_PORT of salon.env.example, inside the test's namespace
READY_TIMEOUT_S: Final = 40.0
STOP_WITHIN_S: Final = 5.0  # salon serve stops in ~0.5 s (DEPLOYMENT section 4); TimeoutStopSec=40s is the bound
HZ: Final = 440.0
HEARD_DBFS: Final = -30.0
HEAR_TIMEOUT_S: Final = 15.0
PASSWORD: Final = "a fine long passphrase"
# A broadcast worker's command line (anchored: `pgrep -f` run through `sh -c` would otherwise find its own shell).
WORKER: Final = "/opt/salon/.venv/bin/python -m salon.broadcast"
INVITE_LINE: Final = re.compile(r"Open this one-time admin invite to create the first account:\s+\S+/invite/(\S+)")


def section_4_commands() -> list[str]:
    """The shell lines of docs/DEPLOYMENT.md section 4, as an operator types them (as root here: no sudo)."""
    text = (REPO / "docs" / "DEPLOYMENT.md").read_text()
    section = text.split("\n## 4.", 1)[1].split("\n## 5.", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if not command or command.startswith("journalctl"):  # `journalctl -f` follows forever: read below instead
            continue
        commands.append(re.sub(r"(^|&&\s*)sudo ", r"\1", command))
    assert any("systemctl enable --now salon" in c for c in commands), commands
    return commands


def install_checkout(container: Container) -> None:
    """/opt/salon as `make install` leaves it, without a network: see the module docstring."""
    version = container.run("/usr/bin/python3 -c 'import sys; print(sys.version_info[:2])'").stdout.strip()
    assert version == str(tuple(sys.version_info[:2])), f"Debian's python3 is {version}; this venv's deps need 3.11"
    script = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["salon"]
    module, function = script.split(":")
    site = "/opt/salon/.venv/lib/python3.11/site-packages"
    salon = f"#!/opt/salon/.venv/bin/python\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n"
    container.run(
        f"mkdir /opt/salon && cd {CHECKOUT} && cp -r pyproject.toml README.md src deploy docs /opt/salon/"
        " && /usr/bin/python3 -m venv --without-pip /opt/salon/.venv"
        f" && printf '/opt/salon/src\\n{DEPS}\\n' > {site}/salon.pth"
        f" && printf '%s' '{salon}' > /opt/salon/.venv/bin/salon && chmod 0755 /opt/salon/.venv/bin/salon"
    )


def journal(container: Container) -> str:
    return container.run("journalctl -u salon --no-pager -o cat").stdout


def until_ready(container: Container) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        probe = container.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 {BASE}/readyz", check=False)
        if probe.stdout == "200":
            return
        state = container.run("systemctl is-active salon", check=False).stdout.strip()
        assert state in ("active", "activating"), f"salon.service is {state}:\n{journal(container)[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"/readyz did not answer 200 within {READY_TIMEOUT_S:g} s:\n{journal(container)[-3000:]}")


def show(container: Container, *properties: str) -> dict[str, str]:
    out = container.run(f"systemctl show salon {' '.join(f'-p {p}' for p in properties)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def proc_status(container: Container, pid: str) -> dict[str, str]:
    lines = container.run(f"cat /proc/{pid}/status").stdout.splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def mounts(container: Container, pid: str) -> dict[str, tuple[set[str], set[str]]]:
    """Each mount point the process sees (the last mount over it wins): its mount options, its file system's."""
    found = {}
    for line in container.run(f"cat /proc/{pid}/mountinfo").stdout.splitlines():
        fields, _, fs = line.partition(" - ")
        parts = fields.split()
        found[parts[4]] = (set(parts[5].split(",")), set(fs.split()[-1].split(",")))
    return found


@pytest.fixture(scope="module")
def network() -> Iterator[NetNamespace]:
    with network_namespace("sysd") as ns:
        yield ns


@pytest.fixture(scope="module")
def container(network: NetNamespace) -> Iterator[Container]:
    deps = Path(sysconfig.get_paths()["purelib"])
    with booted(network, [(REPO, CHECKOUT), (deps, DEPS)], prefix="salon-sysd") as booted_container:
        install_checkout(booted_container)
        for command in section_4_commands():
            booted_container.run(f"cd /opt/salon && {command}")
        until_ready(booted_container)
        yield booted_container


def test_enable_now_starts_salon_janus_and_workers_under_the_hardening(container: Container) -> None:
    assert container.run("systemctl is-enabled salon").stdout.strip() == "enabled"
    assert show(container, "ActiveState")["ActiveState"] == "active"
    assert INVITE_LINE.search(journal(container)), journal(container)
    main = show(container, "MainPID")["MainPID"]
    janus = container.run("pgrep -x janus").stdout.split()
    workers = container.run(f"pgrep -f '^{WORKER}'").stdout.split()
    assert len(janus) == 1, janus
    assert len(workers) == os.cpu_count(), workers  # SALON_BROADCAST_WORKERS unset: one per core
    # nspawn filters system calls in the whole container already: the unit's own filter is seen as more filters
    # on the service's processes than on the container's PID 1.
    container_filters = int(proc_status(container, "1")["Seccomp_filters"])
    for pid in (main, *janus, *workers):
        assert "/system.slice/salon.service" in container.run(f"cat /proc/{pid}/cgroup").stdout, pid
        status = proc_status(container, pid)
        assert int(status["Seccomp_filters"]) > container_filters, (pid, status, container_filters)
        assert (status["NoNewPrivs"], status["CapEff"], status["CapBnd"]) == (
            "1", "0000000000000000", "0000000000000000"), (pid, status)  # fmt: skip
        seen = mounts(container, pid)
        assert "ro" in seen["/"][0], (pid, seen)  # ProtectSystem=strict...
        assert "rw" in seen["/var/lib/salon"][0], (pid, seen)  # ...but for ReadWritePaths
        assert "hidepid=invisible" in seen["/proc"][1], (pid, seen)  # ProtectProc=invisible


async def listener_hears_speaker(invite_code: str) -> float:
    """In the test's namespace: the invited admin signs up, invites a second member, opens a room and speaks; the
    second member listens. The seconds until the tone is heard."""
    async with httpx.AsyncClient(base_url=BASE + API_PREFIX, trust_env=False) as http:

        async def post(path: str, token: str | None, body: dict[str, str] | None = None) -> dict[str, object]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await http.post(path, json=body, headers=headers)
            assert response.is_success, (path, response.status_code, response.text)
            answer: dict[str, object] = response.json()
            return answer

        async def sign_up(code: str, username: str) -> str:
            body = {"invite_code": code, "username": username, "display_name": username.title(),
                    "password": PASSWORD, "mode": "bearer"}  # fmt: skip
            return str((await post("/auth/signup", None, body))["token"])

        admin = await sign_up(invite_code, "operator")
        cat = await sign_up(str((await post("/invites", admin))["code"]), "cat")
        room = (await post("/rooms", admin, {"title": "Through systemd", "description": ""}))["room"]
        assert isinstance(room, dict)
        room_id = str(room["id"])
    async with contextlib.AsyncExitStack() as stack:
        speaker = await stack.enter_async_context(SalonClient(BASE, admin))
        listener = await stack.enter_async_context(SalonClient(BASE, cat))
        await listener.call("join", room_id=room_id)
        asked = time.monotonic()
        ears = await stack.enter_async_context(ToneMeter(await listener.listen(room_id)))
        await speaker.speak(room_id, ToneTrack(HZ))
        await speaker.call("self_mute", room_id=room_id, muted=False)
        async with asyncio.timeout(HEAR_TIMEOUT_S):
            await ears.wait_until(lambda e: bool(e.frame_tone_levels(HZ, 0.3))
                                  and min(e.frame_tone_levels(HZ, 0.3)) >= HEARD_DBFS)  # fmt: skip
        return time.monotonic() - asked


def test_after_an_edit_and_a_restart_a_listener_hears_a_speaker(container: Container, network: NetNamespace) -> None:
    found = INVITE_LINE.search(journal(container))
    assert found, journal(container)
    # No HTTPS proxy in this test: people reach the app itself. And section 3's managed coturn, a third child.
    container.run(
        f"sed -i 's|^SALON_PUBLIC_URL=.*|SALON_PUBLIC_URL={BASE}|' /etc/salon/salon.env"
        " && echo SALON_TURN=managed >> /etc/salon/salon.env && systemctl restart salon"
    )
    until_ready(container)
    took = network.run(lambda: listener_hears_speaker(found.group(1)), timeout=60.0)
    print(f"through salon.service: 440 Hz heard {took:.1f} s after media_listen")
    listening = container.run("ss -Hltnp 'sport = :3478'").stdout
    assert "turnserver" in listening, f"the managed coturn does not listen:\n{journal(container)[-3000:]}"


def test_stop_is_clean_and_it_starts_again(container: Container) -> None:
    mark = container.run("date +'%Y-%m-%d %H:%M:%S'").stdout.strip()
    began = time.monotonic()
    container.run("systemctl stop salon", timeout=60.0)
    took = time.monotonic() - began
    stopped = show(container, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    since = container.run(f"journalctl -u salon --no-pager -o cat --since '{mark}'").stdout
    assert stopped == {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"}, (
        stopped, since)  # fmt: skip
    assert took < STOP_WITHIN_S, f"systemctl stop took {took:.1f} s:\n{since}"
    assert "SIGKILL" not in since, since
    assert "Killing process" not in since, since
    assert container.run(f"pgrep -x janus; pgrep -x turnserver; pgrep -f '^{WORKER}'", check=False).stdout == ""
    print(f"systemctl stop salon: {took:.2f} s")
    container.run("systemctl start salon")
    until_ready(container)
