"""A Salon in a "cloud" behind a 1:1 NAT (tests/support/nat_topology.py): ``salon serve`` and its managed Janus on
10.0.0.2, a router mapping 198.51.100.2 to it, members outside who reach only 198.51.100.2.

* With ``SALON_JANUS_NAT_1_1=198.51.100.2`` an outside listener hears an outside speaker (440 Hz, measured with an
  FFT on what arrived, as tests/integration/media/test_sound_through_salon.py does).
* Without it Janus offers only 10.0.0.2: the listener's ICE fails and not one audio frame arrives.
* ``salon doctor``, run in the cloud with the public URL on 198.51.100.2, FAILs its NAT check and names the
  setting; with the mapping the check is ok; with STUN it asks the server as Janus will (ok: it sees 198.51.100.2;
  FAIL when nothing answers, since Janus then refuses to start).
* With no mapping but ``SALON_STUN_SERVER`` (a STUN-only coturn "on the internet", in the outside namespace) Janus
  learns 198.51.100.2 at start-up, offers it as a server-reflexive candidate, and the outside listener hears.
* Janus's offer carries only 198.51.100.2 with the mapping; with ``SALON_JANUS_KEEP_PRIVATE_HOST`` also 10.0.0.2,
  and a listener on the cloud's private network (10.0.0.3, behind a NAT that does not hairpin) hears the speaker,
  as it does not without.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from salon.adapters.janus.config import config_folder
from salon.app import sessions
from salon.app.rooms import NewRoom, create_room
from salon.app.settings import Settings
from salon.cli.doctor_checks import SYSTEM_PROBES, Check, check_nat
from salon.cli.doctor_turn import stun_answers
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from salon.domain.rooms import RoomType
from salon.web.app import build_services
from tests.support.janus import killing_leftovers
from tests.support.nat_topology import CLIENT, LAN, PRIVATE, PUBLIC, NatTopology, nat_topology
from tests.support.people import add_member

SECRET_KEY = "k" * 48
PORT = 8000
PUBLIC_URL = f"http://{PUBLIC}:{PORT}"
HZ = 440.0
HEARD_DBFS = -30.0
START_TIMEOUT = 30.0
HEAR_TIMEOUT = 15.0
NO_MEDIA_WAIT = 10.0  # aioice gives up on a pair after ~5 s of unanswered checks
SALON = str(Path(sys.executable).parent / "salon")
PRIVATE_URL = f"http://{PRIVATE}:{PORT}"
STUN_PORT = 3478
STUN_SERVER = f"{CLIENT}:{STUN_PORT}"  # "on the internet": reached from the cloud only through the NAT


@dataclass
class Seeded:
    room: str
    speaker: str  # bearer tokens
    listener: str


async def seed(data_dir: Path) -> Seeded:
    services = await build_services(Settings(data_dir=data_dir, secret_key=SECRET_KEY))
    try:
        mod, cat = [await add_member(services, name) for name in ("moda", "cat")]
        room = (await create_room(services, mod, NewRoom("Across the NAT", "", [], RoomType.OPEN)))["room"]["id"]
        tokens = []
        for user in (mod, cat):
            async with services.db.transaction() as conn:
                tokens.append((await sessions.create_session(services, conn, user, "bearer")).token)
        return Seeded(room, *tokens)
    finally:
        await services.db.dispose()


@pytest.fixture(scope="module")
def topology() -> Iterator[NatTopology]:
    with nat_topology() as built:
        yield built


@pytest.fixture(scope="module")
def stun_server(topology: NatTopology, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's coturn as a plain STUN server on the outside's address. Its firewall gets one hole, UDP 3478 (as a
    public STUN server has), which stays for the module's other tests: their media never uses that port."""
    folder = tmp_path_factory.mktemp("stun")
    hole = ["nft", "add", "rule", "inet", "salon_home", "inbound", "udp", "dport", str(STUN_PORT), "accept"]
    subprocess.run([*topology.exec_argv(topology.outside), *hole], check=True, timeout=10)
    argv = [*topology.exec_argv(topology.outside), "/usr/bin/turnserver", "-n", "--stun-only", "--no-cli",
            f"--listening-ip={CLIENT}", f"--listening-port={STUN_PORT}", "--no-tls", "--no-dtls",
            f"--pidfile={folder / 'turnserver.pid'}", "--log-file=stdout", "--simple-log"]  # fmt: skip
    with (folder / "stun.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:

        async def answers() -> bool:  # in the namespace's own thread: a worker thread would be outside it
            return stun_answers(CLIENT, STUN_PORT)

        deadline = time.monotonic() + START_TIMEOUT
        while not topology.outside.run(answers, timeout=10):
            assert proc.poll() is None, tail(folder / "stun.log")
            assert time.monotonic() < deadline, tail(folder / "stun.log")
            time.sleep(0.1)
        yield STUN_SERVER
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def environment(data_dir: Path, nat: str | None, *, stun: str | None = None, keep: bool = False) -> dict[str, str]:
    env = {**os.environ, "SALON_SECRET_KEY": SECRET_KEY, "SALON_DATA_DIR": str(data_dir)}
    env["SALON_BROADCAST_WORKERS"] = "0"  # listeners here use WebRTC through Janus: no worker needed
    for name in ("SALON_DATABASE_URL", "SALON_JANUS_NAT_1_1", "SALON_STUN_SERVER", "SALON_JANUS_KEEP_PRIVATE_HOST"):
        env.pop(name, None)
    if nat is not None:
        env["SALON_JANUS_NAT_1_1"] = nat
    if stun is not None:
        env["SALON_STUN_SERVER"] = stun
    if keep:
        env["SALON_JANUS_KEEP_PRIVATE_HOST"] = "true"
    return env


@contextlib.asynccontextmanager
async def serving(
    topology: NatTopology, tmp_path: Path, nat: str | None, *, stun: str | None = None, keep: bool = False
) -> AsyncIterator[Seeded]:
    """``salon serve`` in the cloud namespace, on its private address; stopped (and its Janus) at the end."""
    data_dir = tmp_path / "data"
    seeded = await seed(data_dir)
    argv = [*topology.exec_argv(topology.cloud), SALON, "serve", f"--host={PRIVATE}", f"--port={PORT}",
            f"--public-url={PUBLIC_URL}"]  # fmt: skip
    log_path = tmp_path / "serve.log"
    with killing_leftovers(config_folder(data_dir)), log_path.open("wb") as log:
        env = environment(data_dir, nat, stun=stun, keep=keep)
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        try:
            await topology_ready(topology, proc, log_path)
            yield seeded
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def topology_ready(topology: NatTopology, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll the public address from outside (through the NAT) until the app answers."""
    probe = [*topology.exec_argv(topology.outside), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
             "--max-time", "2", f"{PUBLIC_URL}/healthz"]  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, tail(log_path)
        done = await asyncio.to_thread(subprocess.run, probe, capture_output=True, text=True, check=False)
        if done.stdout == "200":
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"salon serve did not answer at {PUBLIC_URL} from outside: {tail(log_path)}")


@dataclass
class Heard:
    took: float | None  # seconds until the tone was heard; None when not one audio frame reached the listener
    offered: set[tuple[str, str]]  # (address, type) of every candidate in Janus's offer to the listener


def candidates(sdp: str) -> set[tuple[str, str]]:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
    fields = [line.split() for line in sdp.splitlines() if line.startswith("a=candidate:")]
    return {(f[4], f[7]) for f in fields}


async def listener_hears_speaker(seeded: Seeded, base: str = PUBLIC_URL, wait: float = HEAR_TIMEOUT) -> Heard:
    """Run in the client's namespace: the speaker sends 440 Hz, the listener listens (both through ``base``) for up
    to ``wait`` seconds."""
    async with contextlib.AsyncExitStack() as stack:
        speaker = await stack.enter_async_context(SalonClient(base, seeded.speaker))
        listener = await stack.enter_async_context(SalonClient(base, seeded.listener))
        await listener.call("join", room_id=seeded.room)
        asked = time.monotonic()
        ears = await stack.enter_async_context(ToneMeter(await listener.listen(seeded.room)))
        pc = listener.peer(seeded.room, "listen")
        offer = pc.remoteDescription if pc is not None else None
        offered = candidates(offer.sdp) if offer is not None else set()
        with contextlib.suppress(Exception):  # without the mapping, the speaker's own ICE fails too
            await speaker.speak(seeded.room, ToneTrack(HZ))
            await speaker.call("self_mute", room_id=seeded.room, muted=False)
        try:
            async with asyncio.timeout(wait):
                await ears.wait_until(lambda e: bool(e.frame_tone_levels(HZ, 0.3))
                                      and min(e.frame_tone_levels(HZ, 0.3)) >= HEARD_DBFS)  # fmt: skip
        except TimeoutError:
            assert ears.last_frame_at is None, "frames arrived but not the tone: a media fault, not ICE"
            return Heard(None, offered)
        return Heard(time.monotonic() - asked, offered)


def heard_from(
    topology: NatTopology, tmp_path: Path, client: str = "outside", wait: float = HEAR_TIMEOUT, **config: Any
) -> Heard:
    """``salon serve`` in the cloud (``config``: serving's), and a speaker and a listener in the client's namespace
    (``outside``, through the public URL; ``lan``, on the cloud's private network, through the private one)."""
    ns, base = (topology.lan, PRIVATE_URL) if client == "lan" else (topology.outside, PUBLIC_URL)
    tmp_path.mkdir(parents=True, exist_ok=True)

    async def scenario() -> Heard:
        async with serving(topology, tmp_path, **config) as seeded:
            return await asyncio.to_thread(ns.run, lambda: listener_hears_speaker(seeded, base, wait), timeout=60.0)

    return asyncio.run(scenario())


def test_with_the_mapping_a_listener_outside_hears_the_speaker(topology: NatTopology, tmp_path: Path) -> None:
    heard = heard_from(topology, tmp_path, nat=PUBLIC)
    assert heard.took is not None, "the listener outside heard nothing through the 1:1 NAT"
    print(f"through the 1:1 NAT: 440 Hz heard {heard.took:.1f} s after media_listen")
    assert {address for address, _ in heard.offered} == {PUBLIC}, f"the private host was offered: {heard.offered}"


def test_without_the_mapping_no_media_reaches_the_outside(topology: NatTopology, tmp_path: Path) -> None:
    heard = heard_from(topology, tmp_path, wait=NO_MEDIA_WAIT, nat=None)
    assert heard.took is None, "media arrived though Janus could only offer its private address"
    assert {address for address, _ in heard.offered} == {PRIVATE}


def test_with_stun_janus_finds_its_public_address_and_the_outside_hears(
    topology: NatTopology, stun_server: str, tmp_path: Path
) -> None:
    heard = heard_from(topology, tmp_path, nat=None, stun=stun_server)
    log = (config_folder(tmp_path / "data") / "janus.log").read_text(errors="replace")
    assert f"Our public address is {PUBLIC}" in log, "Janus's STUN test at start-up did not see the NAT"
    assert (PUBLIC, "srflx") in heard.offered, f"no server-reflexive candidate on {PUBLIC}: {heard.offered}"
    assert heard.took is not None, "the listener outside heard nothing though Janus asked STUN"
    print(f"STUN through the 1:1 NAT: 440 Hz heard {heard.took:.1f} s after media_listen; offered {heard.offered}")


def test_keep_private_host_offers_both_and_a_client_in_the_private_network_hears(
    topology: NatTopology, tmp_path: Path
) -> None:
    kept = heard_from(topology, tmp_path / "kept", "lan", nat=PUBLIC, keep=True)
    assert {(PRIVATE, "host"), (PUBLIC, "host")} <= kept.offered, kept.offered
    assert kept.took is not None, f"the listener on the cloud's private network ({LAN}) heard nothing"
    print(f"keep_private_host: 440 Hz heard on {LAN} {kept.took:.1f} s after media_listen")
    public_only = heard_from(topology, tmp_path / "public", "lan", NO_MEDIA_WAIT, nat=PUBLIC)
    assert {address for address, _ in public_only.offered} == {PUBLIC}, public_only.offered
    assert public_only.took is None, "heard through 198.51.100.2 though the NAT does not hairpin"


def doctor_nat(topology: NatTopology, tmp_path: Path, nat: str | None) -> dict[str, str]:
    argv = [*topology.exec_argv(topology.cloud), SALON, "doctor", "--json", f"--public-url={PUBLIC_URL}"]
    done = subprocess.run(argv, env=environment(tmp_path / "data", nat), capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    nat_check: dict[str, str] = checks["NAT"]
    return nat_check


def test_doctor_in_the_cloud_says_the_mapping_is_missing(topology: NatTopology, tmp_path: Path) -> None:
    missing = doctor_nat(topology, tmp_path, None)
    assert missing["verdict"] == "FAIL", missing
    assert f"would advertise only {PRIVATE} while {PUBLIC} is {PUBLIC}" in missing["message"]
    assert f"SALON_JANUS_NAT_1_1={PUBLIC}" in missing["fix"]
    assert doctor_nat(topology, tmp_path, PUBLIC)["verdict"] == "ok"


def test_doctor_in_the_cloud_asks_the_stun_server_what_janus_will(
    topology: NatTopology, stun_server: str, tmp_path: Path
) -> None:
    # The NAT check alone, with the real probes, in the cloud (a whole `salon doctor` costs ~10 s here: the
    # test above runs that one).
    def nat_check(stun: str) -> Check:
        settings = Settings(data_dir=tmp_path, secret_key=SECRET_KEY, public_url=PUBLIC_URL, stun_server=stun)
        return topology.cloud.run(lambda: check_nat(settings, SYSTEM_PROBES), timeout=30)

    found = nat_check(stun_server)
    assert found.verdict == "ok", found
    assert f"sees this machine as {PUBLIC}, the address of {PUBLIC}" in found.message
    silent = nat_check(f"{CLIENT}:{STUN_PORT + 1}")
    assert silent.verdict == "FAIL", silent
    assert "does not answer from here: Janus will not start" in silent.message
