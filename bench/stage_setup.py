"""Broadcast stage bench (bench layer): the stage ``bench/broadcast_stage.py`` measures beside — ``salon serve``
with its managed Janus and one broadcast worker, two speakers on stage (``bench/stage_member.py``), one member on the
broadcast tier, and the capture of Janus's forward (``bench/rtp_capture.py``) — all children of the bench, inside its
network namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import media
from broadcast_servers import node_counts
from fanout import BenchError

from salon.adapters.janus.runtime import broadcast_secret
from salon.app.settings import Settings
from salon.domain.audience_chunks import DEFAULT_POLICY
from salon.domain.stream_tickets import TicketRefused, control_token, verify_ticket
from tests.support.netns import ADDRESS, INTERFACE

BENCH_DIR = Path(__file__).resolve().parent
TONES_HZ = (440.0, 880.0)


def children_of(pid: int) -> dict[int, str]:
    """{pid: command line} of a process's children."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return found


def option(cmdline: str, name: str) -> str:
    words = cmdline.split()
    return words[words.index(name) + 1]


def bound_ports(pid: int) -> dict[str, set[int]]:
    """{"tcp": listening ports, "udp": bound ports} of a process's sockets on 127.0.0.1 (its namespace's tables):
    the worker is started with port 0 everywhere and prints the ports only to ``salon serve``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found: dict[str, set[int]] = {"tcp": set(), "udp": set()}
    for kind, table in found.items():
        for line in Path(f"/proc/{pid}/net/{kind}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            listening = kind == "udp" or fields[3] == "0A"
            if fields[9] in inodes and address == "0100007F" and listening:
                table.add(int(port, 16))
    return found


class Stage:
    """``salon serve`` with its Janus and one worker, two speakers, one member on the broadcast tier, the capture."""

    def __init__(self, args: argparse.Namespace, tmp: Path, chunks: str, tag: str) -> None:
        self.args, self.tmp, self.tag = args, tmp, tag
        self.policy = DEFAULT_POLICY if chunks == "policy" else chunks
        self.children: list[media.Child] = []
        self.http: httpx.Client | None = None
        self.rss_base_kb: int | None = None  # the worker's RSS with the member only (bench/broadcast_stage.py)

    async def start(self) -> None:
        data_dir = self.tmp / f"{self.tag}-salon"
        self.room, moderator, (speaker, listener) = await media.seed_salon(data_dir, 2)
        self.secret = broadcast_secret(Settings(data_dir=data_dir, secret_key=media.SECRET_KEY))
        port = media.free_port()
        env = {
            **os.environ,
            "SALON_SECRET_KEY": media.SECRET_KEY,
            "SALON_DATA_DIR": str(data_dir),
            "SALON_JANUS_INTERFACE": ADDRESS,
            "SALON_JANUS_ICE_ENFORCE_LIST": INTERFACE,
            "SALON_BROADCAST_WORKERS": "1",
            "SALON_BROADCAST_CHUNKS": self.policy,
            "SALON_BROADCAST_MAX_LISTENERS": str(max(self.args.listener_counts) + 100),
        }
        env.pop("SALON_DATABASE_URL", None)
        argv = [str(Path(sys.executable).parent / "salon"), "serve", "--host=127.0.0.1", f"--port={port}"]
        self.serve = await self._child("serve", [*argv, f"--data-dir={data_dir}", "--no-dev"], env)
        base = f"http://127.0.0.1:{port}"
        await media.wait_http(self.serve, f"{base}/api/v1/openapi.json", 60.0)
        async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
            me = await http.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {speaker}"})
        speaker_id = str(me.json()["id"])
        member = [sys.executable, str(BENCH_DIR / "stage_member.py"), f"--url={base}", f"--room={self.room}"]
        second = await self._child("speaker-b", [*member, f"--token={speaker}", "--role=speaker",
                                                 f"--tone={TONES_HZ[1]}", "--await-invite"])  # fmt: skip
        await second.expect("joined", 30.0)
        first = await self._child("speaker-a", [*member, f"--token={moderator}", "--role=speaker",
                                                f"--tone={TONES_HZ[0]}", f"--invite={speaker_id}"])  # fmt: skip
        await first.expect("ready", 60.0)
        await second.expect("ready", 60.0)
        self.speakers = [first, second]
        self.member = await self._child("member", [*member, f"--token={listener}", "--role=listener"])
        url = urlsplit(str((await self.member.expect("ready", 60.0))["ready"]["url"]))
        children = children_of(self.serve.pid)
        workers = {pid: cmd for pid, cmd in children.items() if "salon.broadcast" in cmd}
        janus = [pid for pid, cmd in children.items() if cmd.split()[:1] and "janus" in cmd.split()[0]]
        if len(workers) != 1 or len(janus) != 1:
            raise BenchError(f"expected one worker and one Janus under salon serve: {workers}, {janus}")
        (self.worker_pid, cmdline), self.janus_pid = next(iter(workers.items())), janus[0]
        self.name = option(cmdline, "--name")
        try:  # the grant's ticket: signed with the secret the bench derived, for this worker and the room
            granted = verify_ticket(self.secret, parse_qs(url.query)["ticket"][0], node=self.name, now=time.time())
        except (TicketRefused, KeyError) as exc:
            raise BenchError(f"the grant {url.geturl()} does not hold a ticket for worker {self.name}: {exc}") from exc
        ports = bound_ports(self.worker_pid)
        if url.port not in ports["tcp"] or len(ports["tcp"]) != 2 or len(ports["udp"]) != 1:
            raise BenchError(f"the grant {url.geturl()} is not worker {self.name}'s stream (its ports: {ports})")
        if url.path != f"/v1/stream/{self.room}" or granted.room != self.room:
            raise BenchError(f"the grant {url.geturl()} is not for room {self.room}")
        self.listen = url.port
        [control] = ports["tcp"] - {url.port}
        [self.rtp] = ports["udp"]
        headers = {"Authorization": f"Bearer {control_token(self.secret)}"}
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{control}", headers=headers, timeout=10.0)
        capture_argv = [sys.executable, str(BENCH_DIR / "rtp_capture.py"), f"--port={self.rtp}"]
        self.capture = await self._child("capture", capture_argv)
        await self.capture.expect("ready", 10.0)
        await self._until_forwarded()

    async def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> media.Child:
        child = await media.Child.start(f"{self.tag}-{name}", argv, self.tmp / f"{self.tag}-{name}.log", env=env)
        self.children.append(child)
        return child

    async def _until_forwarded(self) -> None:
        """Janus's forward reaches the worker (the member's ``media_stream`` asked for it)."""
        first = self.counts()["packets_in"]
        deadline = time.monotonic() + 30.0
        while self.counts()["packets_in"] < first + 50:
            if time.monotonic() > deadline:
                raise BenchError(f"no forward from Janus to worker {self.name} within 30 s\n{self.serve.tail()}")
            await asyncio.sleep(0.2)

    def counts(self) -> dict[str, int]:
        assert self.http is not None
        return node_counts(self.http, self.room)

    def pids(self) -> dict[str, list[int]]:
        return {
            "janus": [self.janus_pid],
            "salon_serve": [self.serve.pid],
            "speakers": [s.pid for s in self.speakers],
            "member": [self.member.pid],
            "capture": [self.capture.pid],
            "bench": [os.getpid()],
        }

    async def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        for child in reversed(self.children):  # salon serve last: it stops its Janus and worker itself
            await child.stop(ask_first=child is not self.serve)
