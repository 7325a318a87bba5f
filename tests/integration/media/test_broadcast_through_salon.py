"""Real sound on the broadcast tier: the app, a managed Janus forwarding the stage's mix to Salon's broadcast
workers, aiortc speakers and ``salon.client`` listeners reading the HTTP stream and decoding its Opus.

In one private network namespace (tests/support/netns.py), one scenario per test, measured by FFT on the audio that
arrived (``ToneMeter``):

* a listener on the broadcast tier hears A (440 Hz), then A and B (880 Hz); a locked mute of B silences B for them;
* the tickets: replayed, for another room, expired, forged, missing — each refused with its own code, and the
  stream of a member who goes on stage, is removed, or whose room ends is cut within 2 s with the reason;
* the moderators' tier split counts the broadcast listener.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from salon.adapters.janus.runtime import broadcast_secret
from salon.app.media_events import run_media_events
from salon.app.rooms import NewRoom, create_room
from salon.client import bot
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.broadcast import BroadcastRefused, BroadcastTrack
from salon.client.session import SalonClient, SalonError
from salon.domain.rooms import RoomType
from salon.domain.stream_tickets import sign_ticket
from tests.integration.media.test_sound_through_salon import (
    A_HZ,
    B_HZ,
    STEP_TIMEOUT,
    WHOLE_TIMEOUT,
    deaf_to,
    dominant_hz,
    hears,
    salon_with_janus,
    token,
    until,
)
from tests.support.live_server import serve
from tests.support.netns import NetNamespace
from tests.support.people import add_member

CUT_WITHIN_S = 2.0


async def refused(url: str) -> tuple[int, str]:
    try:
        track = await BroadcastTrack.open(url)
    except BroadcastRefused as refusal:
        return refusal.status, refusal.code
    await track.close()
    raise AssertionError(f"the broadcast server accepted {url}")


async def cut(track: BroadcastTrack, since: float) -> tuple[float, str | None]:
    """Wait for the server to end the stream: (seconds from ``since``, the command, to the end; the notice's code)."""
    async with asyncio.timeout(STEP_TIMEOUT):
        await track.ended()
    return time.monotonic() - since, (track.notice or {}).get("code")


def ticket_payload(url: str) -> dict[str, Any]:
    ticket = parse_qs(urlsplit(url).query)["ticket"][0]
    payload = ticket.split(".", 1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def with_ticket(url: str, ticket: str) -> str:
    return url.split("?", 1)[0] + f"?ticket={ticket}"


async def scenario(tmp_path: Path) -> dict[str, float]:
    timings: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        services = await salon_with_janus(stack, tmp_path)
        events = asyncio.create_task(run_media_events(services))
        stack.callback(events.cancel)
        names = ("moda", "bob", "cat", "dee", "eve", "fay")
        mod, bob, cat, dee, eve, fay = [await add_member(services, n) for n in names]
        room = (await create_room(services, mod, NewRoom("Broadcast", "", [], RoomType.OPEN)))["room"]["id"]
        other = (await create_room(services, dee, NewRoom("Elsewhere", "", [], RoomType.OPEN)))["room"]["id"]
        port = await stack.enter_async_context(serve(services))
        base = f"http://127.0.0.1:{port}"
        a, b, c, d, e = [
            await stack.enter_async_context(SalonClient(base, await token(services, u)))
            for u in (mod, bob, cat, dee, eve)
        ]
        await a.speak(room, ToneTrack(A_HZ))
        await a.call("self_mute", room_id=room, muted=False)

        # C hears A on the broadcast tier.
        await c.call("join", room_id=room)
        asked = time.monotonic()
        grant = await c.call("media_stream", room_id=room)
        c_track = await BroadcastTrack.open(grant["url"])
        stack.push_async_callback(c_track.close)
        c_ears = await stack.enter_async_context(ToneMeter(c_track))
        await until(c_ears, hears(A_HZ), "C hears A on the broadcast tier")
        timings["media_stream → 440 Hz heard (s)"] = time.monotonic() - asked
        assert c_track.hello is not None
        assert c_track.hello["room_id"] == room
        split = await services.media.audience_split(room)
        assert split == {"webrtc": 0, "broadcast": 1}, split

        # The command-line member records from the broadcast tier.
        recording = tmp_path / "broadcast.wav"
        options = bot.Options(base, await token(services, fay), room, seconds=1.5, record=recording, broadcast=True)
        samples = await bot.run(options)
        assert samples > 0.5 * 48000, f"only {samples} samples recorded in 1.5 s"
        assert abs(dominant_hz(recording) - A_HZ) < 10, "the recording holds A's voice"

        # The tickets.
        assert await refused(grant["url"]) == (409, "ticket_used"), "a ticket starts one stream only"
        await e.call("join", room_id=other)
        elsewhere = (await e.call("media_stream", room_id=other))["url"]
        wrong_room = elsewhere.replace(f"/v1/stream/{other}", f"/v1/stream/{room}")
        assert await refused(wrong_room) == (403, "ticket_wrong_room")
        secret = broadcast_secret(services.settings)
        node = ticket_payload(grant["url"])["node"]
        expired = sign_ticket(
            secret, room=room, user=cat, conn="x", node=node, expires_at=int(time.time()) - 1, nonce="n" * 24
        )
        assert await refused(with_ticket(grant["url"], expired)) == (401, "ticket_expired")
        forged = sign_ticket(
            "not the secret" * 4, room=room, user=cat, conn="x", node=node,
            expires_at=int(time.time()) + 30, nonce="m" * 24,
        )  # fmt: skip
        assert await refused(with_ticket(grant["url"], forged)) == (401, "ticket_invalid")
        async with httpx.AsyncClient(trust_env=False) as http:
            assert (await http.get(grant["url"].split("?", 1)[0])).status_code == 400

        # B comes up: C hears both; a locked mute silences B for C.
        await b.call("join", room_id=room)
        await a.call("invite_up", room_id=room, user_id=bob)
        await b.call("accept_invite", room_id=room)
        await b.speak(room, ToneTrack(B_HZ))
        await b.call("self_mute", room_id=room, muted=False)
        await until(c_ears, lambda e: hears(A_HZ)(e) and hears(B_HZ)(e), "C hears A and B")
        await a.call("mute", room_id=room, user_id=bob, lock=True)
        timings["mute → B inaudible to C on broadcast (s)"] = await until(c_ears, deaf_to(B_HZ), "B muted for C")

        # C goes on stage: the stream is cut (C hears the stage through WebRTC now); back down, a new one works.
        await a.call("invite_up", room_id=room, user_id=cat)
        since = time.monotonic()
        await c.call("accept_invite", room_id=room)
        took, code = await cut(c_track, since)
        timings["on stage → stream cut (s)"] = took
        assert code == "on_stage"
        assert took <= CUT_WITHIN_S
        await a.call("move_to_audience", room_id=room, user_id=cat)
        c_track = await c.listen_broadcast(room)
        stack.push_async_callback(c_track.close)
        c_ears = await stack.enter_async_context(ToneMeter(c_track))
        await until(c_ears, hears(A_HZ), "C, back in the audience, hears A on the broadcast tier")

        # C removed: cut within 2 s with the reason, and no new ticket.
        since = time.monotonic()
        await a.call("remove", room_id=room, user_id=cat)
        took, code = await cut(c_track, since)
        timings["remove → stream cut (s)"] = took
        assert code == "removed"
        assert took <= CUT_WITHIN_S
        with pytest.raises(SalonError) as refusal:
            await c.listen_broadcast(room)
        assert refusal.value.code == "removed_from_room"

        # E listens to D's room, which D ends: cut with room_ended.
        e_track = await e.listen_broadcast(other)
        stack.push_async_callback(e_track.close)
        since = time.monotonic()
        await d.call("end_room", room_id=other)
        took, code = await cut(e_track, since)
        timings["room ended → stream cut (s)"] = took
        assert code == "room_ended"
        assert took <= CUT_WITHIN_S
    return timings


def test_the_broadcast_tier_carries_the_stage_and_enforces_tickets_and_cuts(
    netns: NetNamespace, tmp_path: Path
) -> None:
    timings = netns.run(lambda: scenario(tmp_path), timeout=WHOLE_TIMEOUT)
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.3f}")
