"""Broadcast stage bench (bench layer): one real member of the bench's room, in its own process so that its CPU is
measured apart — a speaker on stage (a tone over WebRTC through Janus) or a listener on the broadcast tier.

Started by ``bench/broadcast_stage.py`` inside its network namespace; everything goes through Salon's public API
with ``SalonClient``, as the command-line member (``salon.client.bot``) does.

- ``--role speaker --tone HZ``: joins, speaks the tone and unmutes. With ``--await-invite`` it first waits to be
  invited up (``accept_invite``, tried until it works); with ``--invite USER_ID`` it invites that member up once it
  speaks (``invite_up``, tried until the member has joined).
- ``--role listener``: joins and asks for the broadcast tier (``media_stream``), which makes Salon register the room
  on a worker and start Janus's forward there; prints the grant's URL and keeps that stream open (PyAV decodes it).

stdout, JSON lines: ``{"joined": true}``, then ``{"ready": {...}}`` (the listener's holds ``url``). Orders on stdin:
``{"report": true}`` -> ``{"report": {"packets": ...}}``; ``{"exit": true}`` or end of stdin -> leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from salon.client.audio import ToneTrack
from salon.client.broadcast import BroadcastTrack
from salon.client.session import SalonClient, SalonError

PR_SET_PDEATHSIG = 1
RETRY_S = 30.0


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


async def until_accepted(what: str, call: Callable[[], Awaitable[Any]]) -> None:
    """Try ``call`` every 0.2 s until the server accepts it (the other member may not be there yet)."""
    deadline = time.monotonic() + RETRY_S
    while True:
        try:
            await call()
            return
        except SalonError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"{what}: still refused after {RETRY_S:g} s: {exc.code} {exc}") from None
        await asyncio.sleep(0.2)


async def drain(track: MediaStreamTrack) -> None:
    """What the stage hears back: read and dropped (aiortc's receiver would otherwise queue it)."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


async def orders() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run(args: argparse.Namespace) -> int:
    stdin = await orders()
    async with SalonClient(args.url, args.token) as me:
        await me.call("join", room_id=args.room)
        say({"joined": True})
        tasks: list[asyncio.Task[None]] = []
        broadcast: BroadcastTrack | None = None
        if args.role == "speaker":
            if args.await_invite:
                await until_accepted("accept_invite", lambda: me.call("accept_invite", room_id=args.room))
            heard = await me.speak(args.room, ToneTrack(args.tone))
            tasks.append(asyncio.create_task(drain(heard)))
            await me.call("self_mute", room_id=args.room, muted=False)
            if args.invite:
                invite = args.invite
                await until_accepted("invite_up", lambda: me.call("invite_up", room_id=args.room, user_id=invite))
            say({"ready": {"tone_hz": args.tone}})
        else:
            grant = await me.call("media_stream", room_id=args.room)
            broadcast = await BroadcastTrack.open(grant["url"])
            say({"ready": {"url": grant["url"]}})
        try:
            while line := await stdin.readline():
                order = orjson.loads(line)
                if "exit" in order:
                    break
                if "report" in order:
                    packets = broadcast.packets if broadcast is not None else 0
                    notice = broadcast.notice if broadcast is not None else None
                    say({"report": {"packets": packets, "notice": notice}})
        finally:
            for task in tasks:
                task.cancel()
            if broadcast is not None:
                await broadcast.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--role", choices=("speaker", "listener"), required=True)
    parser.add_argument("--tone", type=float, default=440.0, help="the speaker's tone, Hz")
    parser.add_argument("--await-invite", action="store_true", help="the speaker waits to be invited up")
    parser.add_argument("--invite", default="", help="the speaker invites this member up")
    args = parser.parse_args()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.alarm(1800)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
