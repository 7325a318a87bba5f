"""A Salon in a "cloud" behind a 1:1 NAT (tests/support/nat_topology.py): ``salon serve`` and its managed Janus on
10.0.0.2, a router mapping 198.51.100.2 to it, members outside who reach only 198.51.100.2.

* With ``SALON_JANUS_NAT_1_1=198.51.100.2`` an outside listener hears an outside speaker (440 Hz, measured with an
  FFT on what arrived, as tests/integration/media/test_sound_through_salon.py does).
* Without it Janus offers only 10.0.0.2: the listener's ICE fails and not one audio frame arrives.
* ``salon doctor``, run in the cloud with the public URL on 198.51.100.2, FAILs its NAT check and names the
  setting; with the mapping the check is ok.
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

import pytest

from salon.adapters.janus.config import config_folder
from salon.app import sessions
from salon.app.rooms import NewRoom, create_room
from salon.app.settings import Settings
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from salon.domain.rooms import RoomType
from salon.web.app import build_services
from tests.support.janus import killing_leftovers
from tests.support.nat_topology import PRIVATE, PUBLIC, NatTopology, nat_topology
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


def environment(data_dir: Path, nat: str | None) -> dict[str, str]:
    env = {**os.environ, "SALON_SECRET_KEY": SECRET_KEY, "SALON_DATA_DIR": str(data_dir)}
    env["SALON_BROADCAST_WORKERS"] = "0"  # listeners here use WebRTC through Janus: no worker needed
    for name in ("SALON_DATABASE_URL", "SALON_JANUS_NAT_1_1", "SALON_STUN_SERVER"):
        env.pop(name, None)
    if nat is not None:
        env["SALON_JANUS_NAT_1_1"] = nat
    return env


@contextlib.asynccontextmanager
async def serving(topology: NatTopology, tmp_path: Path, nat: str | None) -> AsyncIterator[Seeded]:
    """``salon serve`` in the cloud namespace, on its private address; stopped (and its Janus) at the end."""
    data_dir = tmp_path / "data"
    seeded = await seed(data_dir)
    argv = [*topology.exec_argv(topology.cloud), SALON, "serve", f"--host={PRIVATE}", f"--port={PORT}",
            f"--public-url={PUBLIC_URL}"]  # fmt: skip
    log_path = tmp_path / "serve.log"
    with killing_leftovers(config_folder(data_dir)), log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=environment(data_dir, nat), stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
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


async def outside_listener_hears_speaker(seeded: Seeded) -> float | None:
    """Run in the outside namespace: the speaker sends 440 Hz, the listener listens; the seconds until the tone is
    heard, or None when not one audio frame reached the listener."""
    async with contextlib.AsyncExitStack() as stack:
        speaker = await stack.enter_async_context(SalonClient(PUBLIC_URL, seeded.speaker))
        listener = await stack.enter_async_context(SalonClient(PUBLIC_URL, seeded.listener))
        await listener.call("join", room_id=seeded.room)
        asked = time.monotonic()
        ears = await stack.enter_async_context(ToneMeter(await listener.listen(seeded.room)))
        with contextlib.suppress(Exception):  # without the mapping, the speaker's own ICE fails too
            await speaker.speak(seeded.room, ToneTrack(HZ))
            await speaker.call("self_mute", room_id=seeded.room, muted=False)
        try:
            async with asyncio.timeout(HEAR_TIMEOUT):
                await ears.wait_until(lambda e: bool(e.frame_tone_levels(HZ, 0.3))
                                      and min(e.frame_tone_levels(HZ, 0.3)) >= HEARD_DBFS)  # fmt: skip
        except TimeoutError:
            assert ears.last_frame_at is None, "frames arrived but not the tone: a media fault, not ICE"
            return None
        return time.monotonic() - asked


def test_with_the_mapping_a_listener_outside_hears_the_speaker(topology: NatTopology, tmp_path: Path) -> None:
    async def scenario() -> float | None:
        async with serving(topology, tmp_path, PUBLIC) as seeded:
            return await asyncio.to_thread(topology.outside.run, lambda: outside_listener_hears_speaker(seeded),
                                           timeout=60.0)  # fmt: skip

    took = asyncio.run(scenario())
    assert took is not None, "the listener outside heard nothing through the 1:1 NAT"
    print(f"through the 1:1 NAT: 440 Hz heard {took:.1f} s after media_listen")


def test_without_the_mapping_no_media_reaches_the_outside(topology: NatTopology, tmp_path: Path) -> None:
    async def scenario() -> float | None:
        async with serving(topology, tmp_path, None) as seeded:
            return await asyncio.to_thread(topology.outside.run, lambda: outside_listener_hears_speaker(seeded),
                                           timeout=60.0)  # fmt: skip

    assert asyncio.run(scenario()) is None, "media arrived though Janus could only offer its private address"


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
