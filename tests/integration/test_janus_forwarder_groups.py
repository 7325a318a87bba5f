"""Characterises a bug of Janus 1.1.2's AudioBridge (Debian's, managed, on 127.0.0.1) that Salon works around:
in a room whose forwarders carry more than one group, a second Opus forwarder of the same group (here the whole mix)
that the mixer reaches after another group's encode sends its group's packet cut to THAT encode's length.

The mixer walks a room's forwarders in hash-table order each 20 ms tick (``listforwarders`` walks the same table, so
it shows the order). An Opus forwarder encodes its group's mix the first time the group comes up (``if(!have_opus[
rfm->group])``, into ``rtpbuffer + group*1500``) and sets the ONE ``length`` all groups share; a later forwarder of
an already-encoded group reuses that group's buffer with whatever ``length`` the last encode set. So: whole mix W1,
then the forwarder G of a silent group (a 3-byte Opus frame), then whole mix W2 — W2 sends the whole mix's first
3 bytes. In any other order, or without G, W1 and W2 send the same bytes.

Salon's guard (``adapters/janus/forward_rules.py``): the per-speaker mix's group forwards and a second forward of the
floor's whole mix never coexist (docs/ARCHITECTURE.md, "Janus 1.1.2: one Opus forward per group").

**When this test fails, Janus has fixed the bug and the guard can be lifted** (and this test turned around).

A plain-RTP participant of the ``talk`` group is fed a 440 Hz tone as Opus; the forwards go to UDP sockets on
loopback. Forwarders are made again until ``listforwarders`` has shown both a bad and a good order.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import select
import socket
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.codecs.opus import OpusEncoder

from salon.adapters.janus.plugins import AUDIOBRIDGE, AudioBridge
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.transport import JanusSession, JanusTransport
from tests.support.janus import managed_janus

ROOM = 7_000_001
SECRET = "forwarder-groups"
HOST = "127.0.0.1"
TICK_S = 0.02
LISTEN_S = 0.5  # 25 ticks per measured order
ATTEMPTS = 40  # a bad order (G between the two) comes 1 time in 3: missing it 40 times is ~1e-7


def tone_payloads(seconds: float = 1.0, hz: float = 440.0) -> list[bytes]:
    """A tone as Opus frames of 20 ms (aiortc's encoder: 48 kHz)."""
    encoder = OpusEncoder()
    payloads: list[bytes] = []
    samples = 960
    for i in range(int(seconds / TICK_S)):
        t = (np.arange(samples) + i * samples) / 48000
        pcm = (0.3 * 32767 * np.sin(2 * math.pi * hz * t)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = i * samples
        payloads.extend(encoder.encode(frame)[0])
    return payloads


async def feed(address: tuple[str, int], payloads: list[bytes]) -> None:
    """Send the tone as Opus RTP (payload type 111), one packet every 20 ms, until cancelled."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        seq, stamp, start = 0, 0, time.monotonic()
        while True:
            header = struct.pack("!BBHII", 0x80, 111, seq & 0xFFFF, stamp & 0xFFFFFFFF, 0x5A10)
            sock.sendto(header + payloads[seq % len(payloads)], address)
            seq, stamp = seq + 1, stamp + 960
            await asyncio.sleep(max(0.0, start + seq * TICK_S - time.monotonic()))
    finally:
        sock.close()


def receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


def drain(socks: list[socket.socket]) -> None:
    for sock in socks:
        with contextlib.suppress(BlockingIOError):
            while True:
                sock.recv(2048)


def listen(socks: list[socket.socket], seconds: float) -> list[list[bytes]]:
    """The RTP payloads each socket receives for ``seconds`` (the 12-byte header off: Janus adds no extension)."""
    heard: list[list[bytes]] = [[] for _ in socks]
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(socks, [], [], left)
        for sock in ready:
            with contextlib.suppress(BlockingIOError):
                while True:
                    heard[socks.index(sock)].append(sock.recv(2048)[12:])
    return heard


def same_bytes(these: list[bytes], those: list[bytes]) -> bool:
    """Whether (nearly) every packet of ``these`` is one of ``those``: the windows of two sockets may differ by the
    packet at each edge."""
    return sum(p in set(those) for p in these) >= len(these) - 2


def louder(payloads: list[bytes], silence: int) -> bool:
    """Whether (nearly) every packet is longer than the silent frame: the tone is in it."""
    return sum(len(p) > silence for p in payloads) >= len(payloads) - 2


def common_length(payloads: list[bytes]) -> int:
    return Counter(len(p) for p in payloads).most_common(1)[0][0]


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[ManagedJanus]:
    async with managed_janus(tmp_path / "janus") as j:
        yield j


@pytest.fixture
async def session(janus: ManagedJanus) -> AsyncIterator[JanusSession]:
    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        session = await transport.create_session(event_timeout=5.0)
        yield session
        await session.destroy()


async def test_a_second_whole_mix_forward_after_another_groups_encode_sends_that_groups_length(
    janus: ManagedJanus, session: JanusSession
) -> None:
    control = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=janus.admin_key, room_secret=SECRET)
    await control.create(ROOM, audiolevel_event=False, allow_rtp_participants=True, groups=("talk", "quiet"))
    feeder = await session.attach(AUDIOBRIDGE)
    address = await AudioBridge(feeder).join_plain_rtp(ROOM, display="tone", prebuffer=2, group="talk")
    sending = asyncio.create_task(feed(address, tone_payloads()))
    w1, g, w2 = socks = [receiver() for _ in range(3)]
    try:
        seen: dict[str, list[list[bytes]]] = {}
        for _ in range(ATTEMPTS):
            ids = [
                await control.rtp_forward(ROOM, host=HOST, port=w1.getsockname()[1]),
                await control.rtp_forward(ROOM, host=HOST, port=g.getsockname()[1], group="quiet"),
                await control.rtp_forward(ROOM, host=HOST, port=w2.getsockname()[1]),
            ]
            walk = [f.stream_id for f in await control.list_forwarders(ROOM)]
            in_walk = sorted(ids, key=walk.index)
            order = "bad" if in_walk[1] == ids[1] else "good"  # the group forward between the two whole-mix ones
            if order not in seen:
                await asyncio.sleep(0.1)  # the forwards' first packets, then a clean window
                drain(socks)
                heard = await asyncio.to_thread(listen, socks, LISTEN_S)
                # By the walk: "early" the whole-mix forward the mixer reaches first, "late" the other one.
                early, late = (heard[ids.index(i)] for i in in_walk if i != ids[1])
                seen[order] = [early, heard[1], late]
            for stream_id in ids:
                await control.stop_rtp_forward(ROOM, stream_id)
            if len(seen) == 2:
                break
        assert set(seen) == {"bad", "good"}, f"listforwarders showed only {set(seen)} in {ATTEMPTS} tries"

        early, quiet, late = seen["bad"]
        assert len(early) >= 10, "both whole-mix forwards send every tick"
        assert len(late) >= 10
        silence = common_length(quiet)
        # (A tick may find the feed starved on a busy machine: a few edge packets are let go everywhere.)
        assert louder(early, silence), "the tone's Opus frames are longer than the silent group's"
        assert sum(len(q) == silence for q in late) >= len(late) - 2, "the late one sends the quiet group's length"
        assert sum(any(p.startswith(q) for p in early) for q in late) >= len(late) // 2, "the whole mix, cut"

        early, _quiet, late = seen["good"]
        assert len(late) >= 10
        assert same_bytes(late, early), "both whole-mix forwards send the same bytes"
        assert louder(late, silence)

        # And with no group forward at all, the two whole-mix forwards are byte-equal too.
        ids = [await control.rtp_forward(ROOM, host=HOST, port=s.getsockname()[1]) for s in (w1, w2)]
        await asyncio.sleep(0.1)
        drain(socks)
        one, _none, two = await asyncio.to_thread(listen, socks, LISTEN_S)
        assert len(two) >= 10
        assert same_bytes(two, one)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        for sock in socks:
            sock.close()
