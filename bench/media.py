"""Audio bench: how long a voice takes to reach a listener, how long a listener waits for sound, and what each
listener costs Janus — real WebRTC (aiortc, ICE, DTLS, SRTP) through a real Janus, as Salon sets it up.

    .venv/bin/python bench/media.py                 # everything (~3 min; needs root for the network namespace)
    .venv/bin/python bench/media.py --quick         # a smoke run (~1½ min)
    .venv/bin/python bench/media.py --phases load --perf   # the load steps, with a perf profile of Janus after each

Everything runs inside a private network namespace made for the run (``salon0`` = 198.18.0.1, nothing routes out;
docs/ARCHITECTURE.md, "Testing real audio"), deleted at the end. Three phases, each with a Janus of its own:

1. ``latency`` — speaker → listener, network to network. A ``ManagedJanus`` configured as ``salon serve`` configures
   it, driven through the app's media adapter (``JanusMedia``: AudioBridge room, ``rtp_forward`` of its mix to a
   Streaming mountpoint, ``prebuffer`` 2 as Salon joins speakers; ``--prebuffers`` adds variants). An aiortc
   speaker switches a tone on and off (``--onsets`` times, over ``--speaker-sessions`` connections: the mixer's
   20 ms tick has one phase per connection); an aiortc listener receives the mix. Packets are timed where they
   leave and enter aiortc, before its jitter buffer (``bench/media_probes.py``): latency = arrival of the first
   listener packet whose decoded audio holds the tone − sending of the speaker's first such packet. The same is
   measured aiortc → aiortc without Janus (the instrument's own share), and the onset after aiortc's decoder
   (what an aiortc application hears: its jitter buffer included) for comparison.
2. ``join`` — a listener's wait for sound through Salon itself: ``salon serve`` as its own process (managed Janus,
   WebSocket signalling), a moderator speaking, and ``--joins`` members joining one after another with
   ``SalonClient``: time from calling ``listen`` (which sends ``media_listen``) to the first RTP packet in.
3. ``load`` — Janus's CPU per listener-packet and memory per listener. One speaker talks (a tone switched on and
   off, so latency under load is timed too); ``--client-procs`` processes (``bench/media_clients.py``) join light
   listeners, ramping through ``--listeners``. At each step, over ``--window`` seconds: Janus's CPU (utime + stime
   of the process, ``/proc/<pid>/stat``), the RTP packets the listeners counted after SRTP, Janus's RSS, the
   clients' CPU, this process's CPU and the whole machine's (``/proc/stat``).

Every child process is stopped by its PID (and dies with the thread that started it: ``PR_SET_PDEATHSIG``); on
SIGTERM or Ctrl-C the run is cancelled so that it stops them in order; whatever still runs in the namespace at the
end is killed by PID before the namespace is deleted. Every wait has a timeout, and ``--timeout`` bounds the whole
run.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import ctypes
import itertools
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import media_probes as probes
import orjson
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fanout import cpu_seconds, machine, machine_busy_seconds, percentile

from salon.adapters.janus.config import ManagedJanusConfig
from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.plugins import janus_id
from salon.adapters.janus.process import ManagedJanus
from salon.app.ports import Jsep
from salon.app.rooms import NewRoom, create_room
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from salon.domain.rooms import RoomType
from salon.store.tables import users
from salon.web.app import build_services

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` is not installed: the namespace helpers are found from the repository
    sys.path.insert(0, str(REPO))

from tests.support.netns import (  # noqa: E402
    ADDRESS,
    INTERFACE,
    NetNamespace,
    create_namespace,
    delete_namespace,
    enter_namespace,
)

BENCH_DIR = Path(__file__).resolve().parent
SECRET_KEY = "media-bench-secret-key-" + "x" * 24
PR_SET_PDEATHSIG = 1
TONE_HZ = 440.0
PACKETS_PER_S = 50  # Opus, 20 ms per packet: Salon's mix and aiortc's sender
HEARD_DBFS = -50.0  # a packet "holds the tone" at this RMS level; a tone at 0.3 reads ~-16, silence below -110
QUIET_DBFS = -60.0  # the packets before an onset must all be below this: the tone starts from silence
DECODED_DBFS = -30.0  # the after-decoder onset, as the media integration tests judge it (ToneMeter)
STEP_TIMEOUT = 15.0  # any single wait for the network or a process
TONE_ON_S = 0.2
TONE_CHECKED_NS = 160_000_000  # of the listener's tone, checked for gaps (the first and last packet may be partial)


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


STARTED = time.monotonic()


# --- small helpers ----------------------------------------------------------------------------------------------


def peer() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # aiortc asks a public STUN server by default


def local(pc: RTCPeerConnection) -> Jsep:
    # aiortc gathers every candidate before setLocalDescription returns: the SDP holds them, nothing to trickle.
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


def remote(jsep: Jsep) -> RTCSessionDescription:
    return RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"])


async def until(condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:  # noqa: ASYNC109
    """Poll ``condition`` every 5 ms. Times that matter are stamped by the probes, never by this loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(0.005)


async def drain(track: MediaStreamTrack) -> None:
    """Consume a remote track nobody listens to (aiortc queues its decoded frames without bound otherwise)."""
    with contextlib.suppress(Exception):
        while True:
            await track.recv()


def ms(ns: float) -> float:
    return round(ns / 1e6, 1)


def pcts(values_ns: Sequence[int]) -> dict[str, float]:
    s = sorted(values_ns)
    if not s:
        return {"n": 0}
    return {
        "n": len(s),
        "min": ms(s[0]),
        "p50": ms(percentile(s, 50)),
        "p95": ms(percentile(s, 95)),
        "max": ms(s[-1]),
    }


CLK_TCK = os.sysconf("SC_CLK_TCK")


def task_times(pid: int) -> dict[int, tuple[str, float, float]]:
    """Every thread of ``pid``: its name and its user and system CPU seconds (``/proc/<pid>/task/*/stat``)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (task / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            found[int(task.name)] = (name, int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK)
    return found


def thread_split(
    before: dict[int, tuple[str, float, float]], after: dict[int, tuple[str, float, float]]
) -> dict[str, list[float]]:
    """CPU seconds [user, system] per thread name between two ``task_times`` (trailing digits merged: the two
    ``hloop`` event loops count as one). Threads that ended in between are missed."""
    split: dict[str, list[float]] = {}
    for tid, (name, user, system) in after.items():
        _, user0, system0 = before.get(tid, (name, 0.0, 0.0))
        group = split.setdefault(name.rstrip("0123456789 ") or name, [0.0, 0.0])
        group[0] += user - user0
        group[1] += system - system0
    return {name: [round(u, 2), round(s, 2)] for name, (u, s) in sorted(split.items(), key=lambda kv: -sum(kv[1]))}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares line through the points: (slope, intercept)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return slope, my - slope * mx


class OtherCpu:
    """CPU time that processes outside this bench spent meanwhile: every process but this one and those in the
    bench's namespace (kernel threads included). Processes that ended meanwhile are missed: a lower bound.
    Created from the namespace thread."""

    def __init__(self) -> None:
        st = os.stat("/proc/thread-self/ns/net")
        self._ns = (st.st_dev, st.st_ino)
        self._before = self._snapshot()
        self._busy0 = machine_busy_seconds()

    def _snapshot(self) -> dict[int, float]:
        me, found = os.getpid(), {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                st = os.stat(entry / "ns" / "net")
                if (st.st_dev, st.st_ino) != self._ns:
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
        return found

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        other = sum(cpu - self._before.get(pid, 0.0) for pid, cpu in after.items())
        return {
            "other_processes_cpu_s": round(other, 2),
            "machine_busy_cpu_s": round(machine_busy_seconds() - self._busy0, 2),
        }


def _child_setup() -> None:
    """In each child before exec: die with the thread that started it (the bench's namespace thread)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """A child process started from the namespace thread (so inside the namespace): orders on stdin, JSON lines
    on stdout, stderr to a log file. Stopped by its PID."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path, log_file: IO[bytes]) -> None:
        self.name, self.proc, self.log_path, self._log_file = name, proc, log_path, log_file
        self.pid = proc.pid

    @classmethod
    async def start(cls, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> Child:
        log_file = log_path.open("wb")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            env=env,
            preexec_fn=_child_setup,
            limit=1 << 22,
        )
        return cls(name, proc, log_path, log_file)

    async def tell(self, order: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps(order) + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, key: str, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = await self.proc.stdout.readline()
                    if not line:
                        raise BenchError(f"{self.name} exited ({self.proc.returncode}) before {key!r}\n{self.tail()}")
                    with contextlib.suppress(orjson.JSONDecodeError):
                        message: dict[str, Any] = orjson.loads(line)
                        if key in message:
                            return message
        except TimeoutError:
            raise BenchError(f"{self.name}: no {key!r} within {timeout:g} s\n{self.tail()}") from None

    def tail(self, lines: int = 20) -> str:
        self._log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"  [{self.name}] {line}" for line in text[-lines:])

    async def stop(self, *, ask_first: bool = True) -> None:
        """Ask it to leave (``{"exit": true}``), then SIGTERM, then SIGKILL, 10 s apart, by PID."""
        if self.proc.returncode is None:
            if ask_first:
                with contextlib.suppress(OSError, RuntimeError):
                    await self.tell({"exit": True})
            for sig in (None, signal.SIGTERM, signal.SIGKILL) if ask_first else (signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, sig)
                try:
                    async with asyncio.timeout(10.0):
                        await self.proc.wait()
                    break
                except TimeoutError:
                    continue
        self._log_file.close()


# --- tone onsets: a speaker switching a tone on and off, a listener timing it -----------------------------------


@dataclass(frozen=True)
class Onset:
    switched_ns: int  # the tone's first frame handed to aiortc's sender (ToneTrack.changed_at)
    sent_ns: int  # the speaker's first packet holding the tone went to the socket
    arrived_ns: int  # the listener's first packet holding the tone came in (before aiortc's jitter buffer)
    decoded_ns: int | None  # the listener's first decoded frame holding it (after the jitter buffer), if timed
    silent_packets: int  # listener packets without the tone while it should have been heard (see TonePath)
    tone_packets: int  # listener packets in that stretch

    @property
    def latency_ns(self) -> int:
        return self.arrived_ns - self.sent_ns


@dataclass
class OnsetLog:
    onsets: list[Onset] = field(default_factory=list)
    missed: int = 0  # no onset found at one end within the wait
    rejected: int = 0  # an onset not preceded by silence at one end (not counted)
    send_gaps_ns: list[int] = field(default_factory=list)  # between the speaker's consecutive packets
    connection_p50s_ms: list[float] = field(default_factory=list)  # the median of each speaker connection

    def note_pacing(self, sent: probes.PacketLevels, since_ns: int = 0) -> None:
        times = [t for t in sent.times if t >= since_ns]
        self.send_gaps_ns.extend(b - a for a, b in itertools.pairwise(times))

    def summary(self) -> dict[str, Any]:
        decoded = [o.decoded_ns - o.arrived_ns for o in self.onsets if o.decoded_ns is not None]
        return {
            "latency_ms": pcts([o.latency_ns for o in self.onsets]),
            "sender_delay_ms": pcts([o.sent_ns - o.switched_ns for o in self.onsets]),
            "decoded_after_arrival_ms": pcts(decoded),
            "after_decoder_latency_ms": pcts(
                [o.decoded_ns - o.sent_ns for o in self.onsets if o.decoded_ns is not None]
            ),
            "missed": self.missed,
            "rejected": self.rejected,
            "silent_packets_in_tones": [
                sum(o.silent_packets for o in self.onsets),
                sum(o.tone_packets for o in self.onsets),
            ],
            "speaker_packet_gaps_ms": pcts(self.send_gaps_ns) | {"p99": ms(percentile(sorted(self.send_gaps_ns), 99))},
            "p50_per_speaker_connection_ms": self.connection_p50s_ms,
        }


@dataclass
class TonePath:
    tone: ToneTrack
    sent: probes.PacketLevels
    heard: probes.PacketLevels
    ears: ToneMeter | None

    async def onsets(self, out: OnsetLog, count: int | None = None, stop: asyncio.Event | None = None) -> None:
        """Switch the tone on (0.2 s) and off (0.25-0.4 s) ``count`` times, or until ``stop`` is set."""
        done = 0
        while (count is None or done < count) and not (stop is not None and stop.is_set()):
            await asyncio.sleep(random.uniform(0.25, 0.4))  # noqa: S311 - a pause, not a secret
            await self._onset(out)
            done += 1

    async def _onset(self, out: OnsetLog) -> None:
        self.tone.set_frequency(TONE_HZ)
        await until(lambda: self.tone.changed_at is not None, "the tone to go out")
        changed_at = self.tone.changed_at
        assert changed_at is not None
        switched = int(changed_at * 1e9)
        held = asyncio.create_task(asyncio.sleep(TONE_ON_S))
        try:
            await until(
                lambda: (
                    self.sent.onset(switched, HEARD_DBFS) is not None
                    and self.heard.onset(switched, HEARD_DBFS) is not None
                ),
                "the tone at both ends",
                timeout=2.0,
            )
            decoded: float | None = None
            if (ears := self.ears) is not None:
                with contextlib.suppress(BenchError):
                    await until(
                        lambda: ears.onset(TONE_HZ, after=changed_at, min_dbfs=DECODED_DBFS) is not None,
                        "the decoded tone",
                        timeout=1.0,
                    )
                decoded = ears.onset(TONE_HZ, after=changed_at, min_dbfs=DECODED_DBFS)
        except BenchError:
            out.missed += 1
            return
        finally:
            await held
            self.tone.set_frequency(None)
        sent, arrived = self.sent.onset(switched, HEARD_DBFS), self.heard.onset(switched, HEARD_DBFS)
        assert sent is not None
        assert arrived is not None
        if not (self.sent.quiet_before(sent, 5, QUIET_DBFS) and self.heard.quiet_before(arrived, 5, QUIET_DBFS)):
            out.rejected += 1
            return
        # The tone was on for 200 ms at the speaker: the listener's next 160 ms, from its onset, should all hold it.
        # A packet without it there is a gap in the audio (the AudioBridge had nothing from the speaker to mix).
        end = arrived + TONE_CHECKED_NS
        with contextlib.suppress(BenchError):
            await until(lambda: bool(self.heard.times) and self.heard.times[-1] >= end, "the tone's end", timeout=2.0)
        silent, total = self.heard.quiet_within(arrived, arrived + TONE_CHECKED_NS, HEARD_DBFS)
        decoded_ns = None if decoded is None else int(decoded * 1e9)
        out.onsets.append(Onset(switched, sent, arrived, decoded_ns, silent, total))


async def janus_speaker(stack: contextlib.AsyncExitStack, media: JanusMedia, room: str, user: str) -> TonePath:
    """A speaker joined through the adapter (``open_speak``), silent until switched on; ``heard`` to be filled."""
    pc = peer()
    stack.push_async_callback(pc.close)
    tone = ToneTrack(None)
    pc.addTransceiver(tone, direction="sendrecv")  # as SalonClient.speak: the speaker hears the others
    await pc.setLocalDescription(await pc.createOffer())
    answer = await media.open_speak(room, user, local(pc))
    await pc.setRemoteDescription(remote(answer))
    sent = probes.PacketLevels()
    probes.watch_sent(pc.getSenders()[0].transport, sent)
    [receiver] = pc.getReceivers()
    drainer = asyncio.create_task(drain(receiver.track))
    stack.callback(drainer.cancel)
    stack.push_async_callback(media.close, room, user, "speak")
    return TonePath(tone, sent, probes.PacketLevels(), None)


async def janus_listener(
    stack: contextlib.AsyncExitStack, media: JanusMedia, room: str, user: str
) -> tuple[probes.PacketLevels, ToneMeter]:
    """A listener joined through the adapter (``open_listen`` / ``answer_listen``), every packet decoded and timed."""
    pc = peer()
    stack.push_async_callback(pc.close)
    offer = await media.open_listen(room, user)
    await pc.setRemoteDescription(remote(offer))
    await pc.setLocalDescription(await pc.createAnswer())
    [receiver] = pc.getReceivers()
    heard = probes.PacketLevels()
    probes.watch_received(receiver, heard)
    ears = await stack.enter_async_context(ToneMeter(receiver.track))
    await media.answer_listen(room, user, local(pc))
    await until(lambda: len(heard) >= 10, "the listener's first packets")
    return heard, ears


# --- phase 1: latency -----------------------------------------------------------------------------------------


def janus_config() -> ManagedJanusConfig:
    # As `salon serve` starts it in a test namespace: defaults (event_loops = cores …) plus the namespace's interface.
    return ManagedJanusConfig(interface=ADDRESS, ice_enforce_list=INTERFACE)


async def latency_through_janus(janus: ManagedJanus, prebuffer: int, args: argparse.Namespace) -> OnsetLog:
    out = OnsetLog()
    room = f"latency-prebuffer-{prebuffer}"
    async with (
        JanusMedia(janus.url, janus.api_secret, janus.admin_key, prebuffer=prebuffer) as media,
        contextlib.AsyncExitStack() as stack,
    ):
        await media.create_room(room)
        stack.push_async_callback(media.destroy_room, room)
        await media.admit(room, "listener", "listener", muted=True)
        await media.admit(room, "speaker", "speaker", muted=False)
        heard, ears = await janus_listener(stack, media, room, "listener")
        sessions = max(1, min(args.speaker_sessions, args.onsets))
        for s in range(sessions):
            count = args.onsets // sessions + (1 if s < args.onsets % sessions else 0)
            already = len(out.onsets)
            async with contextlib.AsyncExitStack() as session:
                path = await janus_speaker(session, media, room, "speaker")
                path.heard, path.ears = heard, ears
                await until(lambda: len(path.sent) >= 25, "0.5 s of the speaker's packets")  # noqa: B023
                await path.onsets(out, count)
                out.note_pacing(path.sent)
            if len(out.onsets) > already:
                out.connection_p50s_ms.append(ms(statistics.median(o.latency_ns for o in out.onsets[already:])))
            log(f"  prebuffer {prebuffer}, speaker connection {s + 1}/{sessions}: {len(out.onsets)} onsets so far")
    return out


async def latency_direct(args: argparse.Namespace) -> OnsetLog:
    """The same onsets from an aiortc speaker straight to an aiortc listener: the instrument's own share."""
    out = OnsetLog()
    async with contextlib.AsyncExitStack() as stack:
        sender, receiver_pc = peer(), peer()
        stack.push_async_callback(sender.close)
        stack.push_async_callback(receiver_pc.close)
        tone = ToneTrack(None)
        sender.addTrack(tone)
        await sender.setLocalDescription(await sender.createOffer())
        await receiver_pc.setRemoteDescription(sender.localDescription)
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        await sender.setRemoteDescription(receiver_pc.localDescription)
        sent, heard = probes.PacketLevels(), probes.PacketLevels()
        probes.watch_sent(sender.getSenders()[0].transport, sent)
        [receiver] = receiver_pc.getReceivers()
        probes.watch_received(receiver, heard)
        ears = await stack.enter_async_context(ToneMeter(receiver.track))
        await until(lambda: len(heard) >= 25, "aiortc → aiortc packets")
        await TonePath(tone, sent, heard, ears).onsets(out, args.baseline_onsets)
        out.note_pacing(sent)
    return out


async def phase_latency(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if args.baseline_onsets:
        log(f"latency: aiortc → aiortc, no Janus ({args.baseline_onsets} onsets) …")
        others = OtherCpu()
        results["aiortc_direct"] = (await latency_direct(args)).summary() | others.stop()
    async with ManagedJanus(tmp / "janus-latency", janus_config()) as janus:
        for prebuffer in args.prebuffers:
            log(f"latency: through Janus, prebuffer {prebuffer} ({args.onsets} onsets) …")
            others = OtherCpu()
            run = await latency_through_janus(janus, prebuffer, args)
            results[f"janus_prebuffer_{prebuffer}"] = run.summary() | others.stop()
            log(f"  p50 {results[f'janus_prebuffer_{prebuffer}']['latency_ms'].get('p50')} ms")
    return results


# --- phase 2: join through Salon ---------------------------------------------------------------------------------


class TimedClient(SalonClient):
    """A ``SalonClient`` that notes when each op was sent and answered (monotonic ns)."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.timings: list[tuple[str, int, int]] = []

    async def call(self, op: str, **data: Any) -> dict[str, Any]:
        sent = time.monotonic_ns()
        try:
            return await super().call(op, **data)
        finally:
            self.timings.append((op, sent, time.monotonic_ns()))


async def seed_salon(data_dir: Path, members: int) -> tuple[str, str, list[str]]:
    """A moderator who opens a room and ``members`` members, each with a bearer token (rows inserted directly)."""
    settings = Settings(data_dir=data_dir, secret_key=SECRET_KEY)
    services = await build_services(settings)  # no media plane: `salon serve` re-creates the room's at start
    try:
        now = services.clock.now()
        names = ["moderator", *(f"m{i:04d}" for i in range(members))]
        ids = [services.ids.new_id() for _ in names]
        rows = [
            {
                "id": user_id,
                "username": name,
                "username_key": name,
                "display_name": name.title(),
                "bio": "",
                "password_hash": "not-a-real-hash",
                "is_admin": False,
                "invites_left": 2,
                "created_at": now,
            }
            for user_id, name in zip(ids, names, strict=True)
        ]
        async with services.db.transaction() as conn:
            await conn.execute(users.insert(), rows)
            tokens = [(await create_session(services, conn, user_id, "bearer")).token for user_id in ids]
        view = await create_room(services, ids[0], NewRoom("Audio bench", "", ["bench"], RoomType.OPEN))
        return str(view["room"]["id"]), tokens[0], tokens[1:]
    finally:
        await services.db.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_http(server: Child, url: str, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.proc.returncode is not None:
                raise BenchError(f"salon serve exited ({server.proc.returncode})\n{server.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise BenchError(f"salon serve did not answer {url} within {timeout:g} s\n{server.tail()}")


async def one_join(base: str, token: str, room: str) -> dict[str, float]:
    """One member joins the room and listens; ms from sending ``media_listen`` to each step."""
    client = TimedClient(base, token)
    async with client:
        await client.call("subscribe", room_id=room)
        await client.call("join", room_id=room)
        asked = time.monotonic_ns()
        await client.listen(room)
        pc = client.peer(room, "listen")
        assert pc is not None
        [receiver] = pc.getReceivers()
        await until(lambda: probes.first_packet_ns(receiver) is not None, "the listener's first packet")
        first = probes.first_packet_ns(receiver)
        assert first is not None
        calls = {op: (sent, answered) for op, sent, answered in client.timings}
        states = probes.transport_times(receiver.transport)
        return {
            "offer_ms": ms(calls["media_listen"][1] - asked),
            "answer_sent_ms": ms(calls["media_answer"][0] - asked),
            "started_ms": ms(calls["media_answer"][1] - asked),
            "ice_ms": ms(states.get("connecting", first) - asked),
            "dtls_ms": ms(states.get("connected", first) - asked),
            "first_packet_ms": ms(first - asked),
        }


JOIN_STEPS = ("offer_ms", "answer_sent_ms", "started_ms", "ice_ms", "dtls_ms", "first_packet_ms")


async def phase_join(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    data_dir = tmp / "salon"
    log(f"join: seeding a room and {args.joins} members …")
    room, moderator, tokens = await seed_salon(data_dir, args.joins)
    port = free_port()
    env = {
        **os.environ,
        "SALON_SECRET_KEY": SECRET_KEY,
        "SALON_DATA_DIR": str(data_dir),
        "SALON_JANUS_INTERFACE": ADDRESS,
        "SALON_JANUS_ICE_ENFORCE_LIST": INTERFACE,
    }
    env.pop("SALON_DATABASE_URL", None)
    salon = str(Path(sys.executable).parent / "salon")
    argv = [salon, "serve", "--host=127.0.0.1", f"--port={port}", f"--data-dir={data_dir}", "--no-dev"]
    server = await Child.start("salon-serve", argv, tmp / "salon-serve.log", env=env)
    base = f"http://127.0.0.1:{port}"
    joins: list[dict[str, float]] = []
    try:
        await wait_http(server, f"{base}/api/v1/openapi.json", 60.0)
        log(f"join: salon serve is up (pid {server.pid}) with its own Janus; the moderator speaks …")
        async with SalonClient(base, moderator) as speaker:
            ears = await speaker.speak(room, ToneTrack(TONE_HZ))
            drainer = asyncio.create_task(drain(ears))
            try:
                await speaker.call("self_mute", room_id=room, muted=False)
                await asyncio.sleep(1.0)
                others = OtherCpu()
                for i, token in enumerate(tokens):
                    joins.append(await one_join(base, token, room))
                    if (i + 1) % 10 == 0:
                        log(f"  {i + 1}/{len(tokens)} joins")
                    await asyncio.sleep(0.2)
                noise = others.stop()
            finally:
                drainer.cancel()
    finally:
        await server.stop(ask_first=False)  # SIGTERM: `salon serve` stops its Janus, then leaves
    summary: dict[str, Any] = {"joins": len(joins), **noise}
    for step in JOIN_STEPS:
        values = sorted(j[step] for j in joins)
        summary[step] = {"p50": percentile_f(values, 50), "p95": percentile_f(values, 95), "max": values[-1]}
    return summary


def percentile_f(sorted_values: Sequence[float], p: float) -> float:
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# --- phase 3: load ------------------------------------------------------------------------------------------------


@dataclass
class Window:
    listeners: int  # load listeners (the probe listener comes on top)
    seconds: float
    packets: int  # counted by the load listeners after SRTP
    probe_packets: int  # what the probe listener received meanwhile
    most: int  # packets the best served load listener received
    fewest: int  # … the least served one
    silent: int  # load listeners that received nothing during the window
    janus_cpu_s: float
    janus_threads: dict[str, list[float]]  # thread name -> [user, system] CPU seconds
    clients_cpu_s: float
    bench_cpu_s: float  # this process: the speaker, the probe listener, the adapter
    machine_busy_s: float  # every CPU of the machine
    janus_rss_mb: float
    other_cpu_s: float  # processes outside the bench (a lower bound)
    onsets: OnsetLog

    @property
    def expected(self) -> int:
        """Every listener served as well as the best served one (Janus sends the same stream to all)."""
        return self.listeners * self.most

    def row(self, nproc: int) -> dict[str, Any]:
        packets = max(1, self.packets)
        return {
            "listeners": self.listeners,
            "seconds": round(self.seconds, 2),
            "packets": self.packets,
            "delivered": round(self.packets / self.expected, 4) if self.expected else None,
            "packets_per_listener_per_s": {
                "most": round(self.most / self.seconds, 1),
                "fewest": round(self.fewest / self.seconds, 1),
                "probe": round(self.probe_packets / self.seconds, 1),
            },
            "silent_listeners": self.silent,
            "janus_cpu_per_s": round(self.janus_cpu_s / self.seconds, 3),
            "janus_threads_user_system_s": self.janus_threads,
            "janus_system_share": round(sum(v[1] for v in self.janus_threads.values()) / self.janus_cpu_s, 3)
            if self.janus_cpu_s
            else None,
            "janus_us_per_listener_packet": round(self.janus_cpu_s * 1e6 / packets, 1) if self.packets else None,
            "janus_rss_mb": round(self.janus_rss_mb, 1),
            "clients_cpu_per_s": round(self.clients_cpu_s / self.seconds, 3),
            "client_us_per_packet": round(self.clients_cpu_s * 1e6 / packets, 1) if self.packets else None,
            "bench_cpu_per_s": round(self.bench_cpu_s / self.seconds, 3),
            "machine_busy": round(self.machine_busy_s / (self.seconds * nproc), 3),
            "other_processes_cpu_s": self.other_cpu_s,
            "latency": self.onsets.summary(),
        }


@dataclass(frozen=True)
class Counts:
    packets: int  # received so far by every load listener
    listeners: int
    silent: int  # listeners that received nothing since the previous count
    fewest: int  # packets the least served listener received since then
    most: int


async def count_all(clients: Sequence[Child]) -> Counts:
    for child in clients:
        await child.tell({"count": True})
    answers = [await child.expect("packets", STEP_TIMEOUT) for child in clients]
    return Counts(
        packets=sum(int(a["packets"]) for a in answers),
        listeners=sum(int(a["listeners"]) for a in answers),
        silent=sum(int(a["silent"]) for a in answers),
        fewest=min(int(a["min"]) for a in answers),
        most=max(int(a["max"]) for a in answers),
    )


async def measure_window(
    janus_pid: int, clients: Sequence[Child], listeners: int, seconds: float, path: TonePath
) -> Window:
    onsets = OnsetLog()
    stop = asyncio.Event()
    talker = asyncio.create_task(path.onsets(onsets, stop=stop))
    paced_since = time.monotonic_ns()
    try:
        before, probe0 = await count_all(clients), len(path.heard)
        janus0, bench0, busy0 = cpu_seconds(janus_pid), cpu_seconds(os.getpid()), machine_busy_seconds()
        threads0 = task_times(janus_pid)
        clients0 = sum(cpu_seconds(c.pid) for c in clients)
        others = OtherCpu()
        began = time.monotonic()
        await asyncio.sleep(seconds)
        noise = others.stop()
        after, probe1 = await count_all(clients), len(path.heard)
        janus1, bench1, busy1 = cpu_seconds(janus_pid), cpu_seconds(os.getpid()), machine_busy_seconds()
        threads1 = task_times(janus_pid)
        clients1 = sum(cpu_seconds(c.pid) for c in clients)
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        async with asyncio.timeout(STEP_TIMEOUT):
            await talker
    onsets.note_pacing(path.sent, paced_since)
    if after.listeners != listeners:
        raise BenchError(f"{after.listeners} listeners counted, {listeners} expected")
    return Window(
        listeners=listeners,
        seconds=elapsed,
        packets=after.packets - before.packets,
        probe_packets=probe1 - probe0,
        most=after.most,
        fewest=after.fewest,
        silent=after.silent,
        janus_cpu_s=janus1 - janus0,
        janus_threads=thread_split(threads0, threads1),
        clients_cpu_s=clients1 - clients0,
        bench_cpu_s=bench1 - bench0,
        machine_busy_s=busy1 - busy0,
        janus_rss_mb=rss_mb(janus_pid),
        other_cpu_s=noise["other_processes_cpu_s"],
        onsets=onsets,
    )


async def phase_load(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    nproc = os.cpu_count() or 1
    profiles: dict[int, dict[str, Any]] = {}
    windows: list[Window] = []
    joins_ms: list[float] = []
    clients: list[Child] = []
    room = "load"
    async with (
        ManagedJanus(tmp / "janus-load", janus_config()) as janus,
        JanusMedia(janus.url, janus.api_secret, janus.admin_key) as media,
        contextlib.AsyncExitStack() as stack,
    ):
        janus_pid = janus.pid
        assert janus_pid is not None
        log(f"load: Janus pid {janus_pid}; a speaker and a probe listener through the adapter …")
        await media.create_room(room)
        await media.admit(room, "speaker", "speaker", muted=False)
        await media.admit(room, "probe", "listener", muted=True)
        heard, ears = await janus_listener(stack, media, room, "probe")
        path = await janus_speaker(stack, media, room, "speaker")
        path.heard, path.ears = heard, ears
        await until(lambda: len(path.sent) >= 25, "0.5 s of the speaker's packets")
        try:
            for k in range(args.client_procs):
                argv = [sys.executable, str(BENCH_DIR / "media_clients.py")]
                clients.append(await Child.start(f"clients-{k}", argv, tmp / f"clients-{k}.log"))
            for child in clients:
                hello = {"janus": janus.url, "api_secret": janus.api_secret, "mountpoint": janus_id(room)}
                await child.tell(hello | {"fast": not args.slow_clients})
            for child in clients:
                await child.expect("ready", STEP_TIMEOUT)
            await asyncio.sleep(args.settle)
            log(f"load: 0 listeners, {args.window:g} s window …")
            windows.append(await measure_window(janus_pid, clients, 0, args.window, path))
            current = 0
            for target in args.listeners:
                more = target - current
                share = [more // len(clients) + (1 if k < more % len(clients) else 0) for k in range(len(clients))]
                log(f"load: adding {more} listeners ({'+'.join(map(str, share))}) …")
                began = time.monotonic()
                for child, n in zip(clients, share, strict=True):
                    await child.tell({"add": n, "concurrency": args.join_concurrency, "timeout": 30.0})
                for child, n in zip(clients, share, strict=True):
                    answer = await child.expect("added", 60.0 + n)
                    joins_ms.extend(float(v) for v in answer["join_ms"])
                    if answer["failed"]:
                        failed = f"{answer['failed']} listeners failed to join: {answer['errors']}"
                        raise BenchError(f"{child.name}: {failed}")
                current = target
                log(f"  {current} listeners receiving ({time.monotonic() - began:.1f} s); settling {args.settle:g} s")
                await asyncio.sleep(args.settle)
                window = await measure_window(janus_pid, clients, current, args.window, path)
                windows.append(window)
                row = window.row(nproc)
                log(
                    f"  {current} listeners: Janus {row['janus_cpu_per_s']:.2f} CPU-s/s, "
                    f"{row['janus_us_per_listener_packet']} µs/listener-packet, RSS {row['janus_rss_mb']} MB, "
                    f"clients {row['clients_cpu_per_s']:.2f} CPU-s/s, machine {100 * row['machine_busy']:.0f} % busy, "
                    f"delivered {100 * (row['delivered'] or 0):.2f} %, latency p50 "
                    f"{row['latency']['latency_ms'].get('p50')} ms"
                )
                if args.perf:
                    log(f"load: perf profile of Janus for {args.window:g} s at {current} listeners (not measured) …")
                    profiles[current] = await perf_profile(janus_pid, args.window, tmp)
        finally:
            for child in clients:
                await child.stop()
    summary = load_summary(windows, joins_ms, nproc)
    if profiles:
        summary["janus_profiles"] = profiles
    return summary


async def perf_profile(pid: int, seconds: float, tmp: Path) -> dict[str, Any]:
    """``perf record`` of Janus (cpu-clock samples, every thread) for ``seconds``; the share of each library and
    thread, and the top symbols. Sampling costs Janus a little, so this runs after the measured windows."""
    if shutil.which("perf") is None:
        raise BenchError("--perf needs the perf program (Debian: linux-perf)")
    data = tmp / "janus.perf"
    record = ["perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", str(pid), "-o", str(data)]
    recorder = await Child.start("perf-record", [*record, "--", "sleep", str(seconds)], tmp / "perf-record.log")
    try:
        async with asyncio.timeout(seconds + 30):
            await recorder.proc.wait()
    finally:
        await recorder.stop()
    profile: dict[str, Any] = {}
    for key, sort in (("by_library", "dso"), ("by_thread", "comm"), ("top_symbols", "dso,sym")):
        argv = ["perf", "report", "-i", str(data), "--stdio", "--no-children", "-g", "none", "--sort", sort]
        report = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        async with asyncio.timeout(60):
            out, _ = await report.communicate()
        rows = []
        for line in out.decode(errors="replace").splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0].endswith("%") and not line.startswith("#"):
                rows.append([parts[1].strip(), float(parts[0].rstrip("%"))])
        profile[key] = rows[:25]
    # Kernel call chains unwind (user-space ones mostly do not): the share of samples sending UDP, and of those the
    # part where the kernel delivers the datagram to the listener's socket — here, in Janus's own system call,
    # since the listener is on the same machine; on a real network that half runs on the listener's machine.
    script = await asyncio.create_subprocess_exec(
        "perf", "script", "-i", str(data), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    async with asyncio.timeout(120):
        out, _ = await script.communicate()
    stacks = [block for block in out.decode(errors="replace").split("\n\n") if block.strip()]
    if stacks:
        profile["udp_send_share"] = round(100 * sum("udp_sendmsg" in b for b in stacks) / len(stacks), 1)
        profile["delivery_to_listener_share"] = round(100 * sum("net_rx_action" in b for b in stacks) / len(stacks), 1)
    return profile


def load_summary(windows: list[Window], joins_ms: list[float], nproc: int) -> dict[str, Any]:
    rows = [w.row(nproc) for w in windows]
    base = windows[0]
    loaded = [w for w in windows if w.listeners > 0]
    # Janus CPU per second against packets per second (the 0-listener window included): slope = µs per packet.
    xs = [w.packets / w.seconds for w in windows]
    ys = [w.janus_cpu_s / w.seconds for w in windows]
    slope_s, intercept = fit(xs, ys)
    rss_slope, rss_intercept = fit([w.listeners for w in windows], [w.janus_rss_mb for w in windows])
    for w, row in zip(windows, rows, strict=True):
        if w.listeners and w.packets:
            net = w.janus_cpu_s - base.janus_cpu_s / base.seconds * w.seconds
            row["janus_us_per_listener_packet_net_of_idle"] = round(net * 1e6 / w.packets, 1)
            row["janus_rss_mb_per_listener_vs_0"] = round((w.janus_rss_mb - base.janus_rss_mb) / w.listeners, 3)
    per_listener_per_s = slope_s * PACKETS_PER_S
    out: dict[str, Any] = {
        "windows": rows,
        "fit": {
            "janus_us_per_listener_packet": round(slope_s * 1e6, 1),
            "janus_fixed_cpu_per_s": round(intercept, 3),
            "listeners_per_core": round(1 / per_listener_per_s) if per_listener_per_s > 0 else None,
            "janus_rss_mb_per_listener": round(rss_slope, 3),
            "janus_rss_mb_at_0": round(rss_intercept, 1),
        },
        "joins_under_ramp_ms": {
            "n": len(joins_ms),
            "p50": round(percentile_f(sorted(joins_ms), 50), 1) if joins_ms else None,
            "p95": round(percentile_f(sorted(joins_ms), 95), 1) if joins_ms else None,
        },
    }
    if loaded:
        out["largest_listeners"] = loaded[-1].listeners
    return out


# --- report -------------------------------------------------------------------------------------------------------


def tables(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "latency" in results:
        lines += [
            "Speaker → listener: the first packet holding the tone, sent → arrived (before aiortc's jitter buffer):",
            "",
            "| path | onsets | min ms | p50 ms | p95 ms | max ms | after aiortc's decoder p50 / p95 ms "
            "| silent packets in tones | speaker packet gaps p99 / max ms | missed / rejected "
            "| other processes CPU-s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in results["latency"].items():
            lat, dec, gaps = r["latency_ms"], r["after_decoder_latency_ms"], r["speaker_packet_gaps_ms"]
            lines.append(
                f"| {name} | {lat.get('n', 0)} | {lat.get('min')} | {lat.get('p50')} | {lat.get('p95')} "
                f"| {lat.get('max')} | {dec.get('p50')} / {dec.get('p95')} "
                f"| {r['silent_packets_in_tones'][0]} / {r['silent_packets_in_tones'][1]} "
                f"| {gaps.get('p99')} / {gaps.get('max')} "
                f"| {r['missed']} / {r['rejected']} | {r['other_processes_cpu_s']} |"
            )
        lines.append("")
    if "join" in results:
        j = results["join"]
        lines += [
            f"Join through Salon ({j['joins']} joins, one at a time; other processes used "
            f"{j['other_processes_cpu_s']} CPU-s meanwhile), ms from sending `media_listen` until:",
            "",
            "| step | p50 ms | p95 ms | max ms |",
            "|---|---:|---:|---:|",
        ]
        for step in JOIN_STEPS:
            r = j[step]
            lines.append(f"| {step} | {r['p50']} | {r['p95']} | {r['max']} |")
        lines.append("")
    if "load" in results:
        load = results["load"]
        lines += [
            "Load (one speaker, N light listeners, one probe listener timing the tone):",
            "",
            "| N | delivered | Janus CPU-s/s | Janus µs / listener-packet | … net of N=0 | … in the kernel "
            "| Janus RSS MB "
            "| clients CPU-s/s | client µs / packet | bench CPU-s/s | machine busy | other CPU-s "
            "| latency p50 / p95 ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in load["windows"]:
            lat = r["latency"]["latency_ms"]
            delivered = "–" if r["delivered"] is None else f"{100 * r['delivered']:.2f} %"
            lines.append(
                f"| {r['listeners']} | {delivered} | {r['janus_cpu_per_s']} | {r['janus_us_per_listener_packet']} "
                f"| {r.get('janus_us_per_listener_packet_net_of_idle', '–')} "
                f"| {100 * (r['janus_system_share'] or 0):.0f} % | {r['janus_rss_mb']} "
                f"| {r['clients_cpu_per_s']} | {r['client_us_per_packet']} | {r['bench_cpu_per_s']} "
                f"| {100 * r['machine_busy']:.0f} % | {r['other_processes_cpu_s']} "
                f"| {lat.get('p50')} / {lat.get('p95')} |"
            )
        f = load["fit"]
        j = load["joins_under_ramp_ms"]
        lines += [
            "",
            f"Fit over the windows: Janus {f['janus_us_per_listener_packet']} µs per listener-packet + "
            f"{f['janus_fixed_cpu_per_s']} CPU-s/s fixed → {f['listeners_per_core']} listeners per core; RSS "
            f"{f['janus_rss_mb_per_listener']} MB per listener (+ {f['janus_rss_mb_at_0']} MB). Joins during the "
            f"ramp (`watch` → first packet, {j['n']} joins): p50 {j['p50']} ms, p95 {j['p95']} ms.",
        ]
        if "janus_profiles" in load:
            n, by = max(load["janus_profiles"].items(), key=lambda kv: int(kv[0]))
            trend = ", ".join(
                f"{k}: {next((share for name, share in p['by_library'] if 'softokn' in name), 0):.0f} %"
                for k, p in load["janus_profiles"].items()
            )
            libraries = ", ".join(f"{name} {share:.0f} %" for name, share in by["by_library"][:10])
            threads = ", ".join(f"{name} {share:.0f} %" for name, share in by["by_thread"][:6])
            lines += [
                "",
                f"Janus's CPU by library (perf, {n} listeners): {libraries}.",
                f"By thread: {threads}.",
                f"Sending UDP: {by.get('udp_send_share')} % of Janus's samples; delivering each datagram to the "
                f"listener's socket, inside that send since the listener is on this machine: "
                f"{by.get('delivery_to_listener_share')} %.",
                f"NSS's softoken (libsoftokn3, SRTP's ciphers in Debian's libsrtp2) by listeners: {trend}.",
            ]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", default="latency,join,load", help="any of latency,join,load (default: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few onsets and joins, 50 and 100 listeners")
    parser.add_argument("--onsets", type=int, default=48, help="tone onsets per prebuffer (default 48)")
    parser.add_argument(
        "--speaker-sessions", type=int, default=12, help="speaker connections they are spread over (default 12)"
    )
    parser.add_argument("--prebuffers", type=int_list, default=[2, 1], help="AudioBridge prebuffers (default 2,1)")
    parser.add_argument("--baseline-onsets", type=int, default=10, help="aiortc → aiortc onsets (0: skip)")
    parser.add_argument("--joins", type=int, default=30, help="listener joins through Salon (default 30)")
    parser.add_argument("--listeners", type=int_list, default=[50, 100, 200, 400], help="load steps (default 50…400)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per load step (default 10)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after joining before measuring")
    parser.add_argument("--client-procs", type=int, default=4, help="load client processes (default 4)")
    parser.add_argument(
        "--slow-clients", action="store_true", help="load listeners count packets at the end of aiortc's usual path"
    )
    parser.add_argument("--join-concurrency", type=int, default=4, help="joins in flight per client process")
    parser.add_argument(
        "--perf", action="store_true", help="after each load step, profile Janus with `perf record` (needs perf)"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="the whole run, seconds (default 1200)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) for a look")
    args = parser.parse_args()
    if args.quick:
        args.onsets, args.speaker_sessions, args.baseline_onsets, args.joins = 12, 2, 5, 10
        args.listeners, args.window = [50, 100], 5.0
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(args.phases) - {"latency", "join", "load"}
    if unknown:
        parser.error(f"unknown phases: {sorted(unknown)}")
    if sorted(args.listeners) != args.listeners or any(n < 1 for n in args.listeners):
        parser.error("--listeners must be increasing positive counts")
    return args


async def run_phases(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    probes.install()
    phases: dict[str, Callable[[argparse.Namespace, Path], Awaitable[dict[str, Any]]]] = {
        "latency": phase_latency,
        "join": phase_join,
        "load": phase_load,
    }
    results: dict[str, Any] = {}
    for name in args.phases:
        began = time.monotonic()
        try:
            results[name] = await phases[name](args, tmp)
        except Exception as exc:  # the other phases still run; the exit status says it failed
            log(f"{name} failed: {type(exc).__name__}: {exc}")
            results.setdefault("failed", {})[name] = f"{type(exc).__name__}: {exc}"
        results.setdefault("elapsed_s", {})[name] = round(time.monotonic() - began, 1)
    return results


def run_in_namespace(ns: NetNamespace, fn: Callable[[], Awaitable[dict[str, Any]]], timeout: float) -> dict[str, Any]:
    """``NetNamespace.run``, plus a clean stop: if this (main) thread is interrupted — SIGTERM, Ctrl-C — the run is
    cancelled in its own loop, so that its ``finally`` blocks stop Janus and the children (given 30 s), before the
    caller deletes the namespace."""
    outcome: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

    async def bounded() -> dict[str, Any]:
        task = asyncio.current_task()
        assert task is not None
        running.append((asyncio.get_running_loop(), task))
        return await asyncio.wait_for(fn(), timeout)

    def target() -> None:
        try:
            enter_namespace(ns.path)  # this thread only; what it starts inherits the namespace
            with asyncio.Runner() as runner:
                outcome.set_result(runner.run(bounded()))
        except BaseException as exc:
            outcome.set_exception(exc)

    thread = threading.Thread(target=target, name=f"netns-{ns.name}", daemon=True)
    thread.start()
    # Waiting on the future, not Thread.join: a join interrupted by a signal marks the thread as stopped in
    # Python 3.11, and the next join returns at once.
    try:
        concurrent.futures.wait([outcome], timeout + 60)
    except BaseException:
        for loop, task in running:
            loop.call_soon_threadsafe(task.cancel)
        concurrent.futures.wait([outcome], 30)
        raise
    if not outcome.done():
        raise TimeoutError(f"the bench did not finish within {timeout + 60:g} s")
    return outcome.result()


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))  # run the clean-up below, then leave
    if os.geteuid() != 0:
        print("bench/media.py needs root: it creates a private network namespace", file=sys.stderr)
        return 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    info = machine()
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, Linux {info['kernel']}")
    log(f"code: {info['revision']}; load average now {Path('/proc/loadavg').read_text().split()[:3]}")
    tmp = Path(tempfile.mkdtemp(prefix="salon-media-"))
    ns: NetNamespace | None = None
    try:
        ns = create_namespace("salon-bench")
        log(f"namespace {ns.name} ({ns.interface_kind} {ns.interface} {ns.address})")
        results = run_in_namespace(ns, lambda: run_phases(args, tmp), args.timeout)
    except (BenchError, TimeoutError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if ns is not None:
            delete_namespace(ns)
            log(f"namespace {ns.name} deleted")
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results = {"machine": info, "date": time.strftime("%Y-%m-%d"), **results}
    print()
    print(tables(results))
    print()
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    log(f"done in {time.monotonic() - STARTED:.0f}s")
    return 1 if results.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
