"""Real sound through a Salon room: the app, its WebSocket signalling and its Janus, with three aiortc members.

Everything runs inside a private network namespace (tests/support/netns.py): the app on the namespace's loopback,
a managed Janus announcing 198.18.0.1, and three ``SalonClient``s — A, the moderator, sending 440 Hz; B, who comes
up and sends 880 Hz; C, a listener. What each one hears is measured with an FFT on the audio that arrived
(``ToneMeter``), never read off the app's own state:

* C hears A (and so does the command-line member, ``salon.client.bot``, in the WAV it records); once B is on
  stage and unmuted, C hears both and each speaker hears only the other (mix-minus-self);
* a listener's request to publish and an outsider's request to listen are refused by the server;
* a moderator's mute silences B for C; moving B to the audience silences B within 1 s; removing B tears B's media
  down within 2 s, and B can neither rejoin nor listen again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from salon.adapters.janus.config import config_folder
from salon.adapters.janus.runtime import open_janus_media
from salon.app import sessions
from salon.app.media_events import run_media_events
from salon.app.rooms import NewRoom, create_room, get_snapshot
from salon.app.services import Services
from salon.app.settings import Settings
from salon.client import bot
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient, SalonError
from salon.domain.rooms import RoomType
from salon.web.app import build_services
from tests.support.janus import janus_pids
from tests.support.live_server import serve
from tests.support.netns import ADDRESS, INTERFACE, NetNamespace
from tests.support.people import add_member

A_HZ, B_HZ = 440.0, 880.0
HEARD_DBFS = -30.0  # a tone sent at amplitude 0.3 arrives near -13 dBFS
SILENT_DBFS = -45.0
STEP_TIMEOUT = 10.0
WHOLE_TIMEOUT = 90.0


def level(ears: ToneMeter, frequency: float, seconds: float = 0.3) -> float:
    """The median per-frame level of ``frequency`` over the last ``seconds`` (robust to the odd lost frame)."""
    levels = ears.frame_tone_levels(frequency, seconds)
    return statistics.median(levels) if levels else -200.0


def hears(frequency: float) -> Callable[[ToneMeter], bool]:
    return lambda ears: level(ears, frequency) >= HEARD_DBFS


def deaf_to(frequency: float) -> Callable[[ToneMeter], bool]:
    # Every frame of the last 0.2 s quiet at that frequency: nothing left of that voice in the mix.
    return lambda ears: (
        bool(ears.frame_tone_levels(frequency, 0.2)) and max(ears.frame_tone_levels(frequency, 0.2)) < SILENT_DBFS
    )


async def until(ears: ToneMeter, predicate: Callable[[ToneMeter], bool], what: str) -> float:
    """Wait until ``predicate(ears)``; the seconds it took. A clear failure names what was awaited."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            await ears.wait_until(predicate)
    except TimeoutError:
        raise AssertionError(
            f"waited {STEP_TIMEOUT:g} s for: {what} (440 Hz at {level(ears, A_HZ):.0f} dBFS, "
            f"880 Hz at {level(ears, B_HZ):.0f} dBFS)"
        ) from None
    return time.monotonic() - started


def dominant_hz(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


async def salon_with_janus(stack: contextlib.AsyncExitStack, tmp_path: Path) -> Services:
    """The app's services on a managed Janus announcing the namespace's address, closed with ``stack``."""
    settings = Settings(
        data_dir=tmp_path / "data",
        dev=True,
        secret_key="s" * 48,
        janus_interface=ADDRESS,
        janus_ice_enforce_list=INTERFACE,
    )
    media = await stack.enter_async_context(open_janus_media(settings))
    services = await build_services(settings, media)
    stack.push_async_callback(services.db.dispose)
    return services


async def token(services: Services, user_id: str) -> str:
    async with services.db.transaction() as conn:
        return (await sessions.create_session(services, conn, user_id, "bearer")).token


async def refused(call: object) -> str:
    with pytest.raises(SalonError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code


async def scenario(tmp_path: Path) -> dict[str, float]:
    timings: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        services = await salon_with_janus(stack, tmp_path)
        events = asyncio.create_task(run_media_events(services))
        stack.callback(events.cancel)
        mod, bob, cat, dee, eve = [await add_member(services, n) for n in ("moda", "bob", "cat", "dee", "eve")]
        room = (await create_room(services, mod, NewRoom("Tones", "440 and 880", [], RoomType.OPEN)))["room"]["id"]
        port = await stack.enter_async_context(serve(services))
        base = f"http://127.0.0.1:{port}"
        a, b, c, d = [
            await stack.enter_async_context(SalonClient(base, await token(services, u))) for u in (mod, bob, cat, dee)
        ]

        # A speaks (moderators come up muted, like every new speaker); C listens.
        a_tone, b_tone = ToneTrack(A_HZ), ToneTrack(B_HZ)
        a_ears = await stack.enter_async_context(ToneMeter(await a.speak(room, a_tone)))
        await a.call("self_mute", room_id=room, muted=False)
        await c.call("subscribe", room_id=room)
        await c.call("join", room_id=room)
        asked = time.monotonic()
        c_ears = await stack.enter_async_context(ToneMeter(await c.listen(room)))
        await until(c_ears, hears(A_HZ), "C hears A")
        timings["listener: media_listen → 440 Hz heard (s)"] = time.monotonic() - asked
        async with asyncio.timeout(STEP_TIMEOUT):
            speakers = await c.next_frame("signal", name="speakers")
        assert speakers["data"]["user_ids"] == [mod], "A's voice lights A's ring"

        # The command-line member records what a listener hears.
        recording = tmp_path / "heard.wav"
        # The bot's seconds run from its join, so its own set-up (WebSocket, ICE, DTLS: over a second under a full
        # run's load) comes out of them: 3 s leave at least a second of sound even then.
        samples = await bot.run(bot.Options(base, await token(services, eve), room, seconds=3.0, record=recording))
        assert samples > 1.0 * 48000, f"only {samples} samples recorded in 3 s"
        assert abs(dominant_hz(recording) - A_HZ) < 10, "the recording holds A's voice"

        # The server decides: a listener cannot publish, an outsider cannot listen.
        await b.call("join", room_id=room)
        assert await refused(b.speak(room, b_tone)) == "not_allowed"
        assert await refused(d.listen(room)) == "not_in_room"
        assert level(c_ears, B_HZ) < SILENT_DBFS, "nothing of B reached the room"

        # B comes up and speaks: C hears both, each speaker only the other.
        await a.call("invite_up", room_id=room, user_id=bob)
        await b.call("accept_invite", room_id=room)
        b_ears = await stack.enter_async_context(ToneMeter(await b.speak(room, b_tone)))
        await b.call("self_mute", room_id=room, muted=False)
        await until(c_ears, lambda e: hears(A_HZ)(e) and hears(B_HZ)(e), "C hears A and B")
        await until(a_ears, hears(B_HZ), "A hears B")
        await until(b_ears, hears(A_HZ), "B hears A")
        assert level(a_ears, A_HZ) < level(a_ears, B_HZ) - 30, "A does not hear A"
        assert level(b_ears, B_HZ) < level(b_ears, A_HZ) - 30, "B does not hear B"

        # A mutes B (locked): C no longer hears B, and B cannot undo it.
        await a.call("mute", room_id=room, user_id=bob, lock=True)
        timings["mute → B inaudible to C (s)"] = await until(c_ears, deaf_to(B_HZ), "B muted for C")
        assert await refused(b.call("self_mute", room_id=room, muted=False)) == "mute_locked"
        await a.call("unlock_mute", room_id=room, user_id=bob)
        await b.call("self_mute", room_id=room, muted=False)
        await until(c_ears, hears(B_HZ), "B audible again")

        # A moves B to the audience: B is inaudible within 1 s, and B can listen like anyone.
        await a.call("move_to_audience", room_id=room, user_id=bob)
        moved = await until(c_ears, deaf_to(B_HZ), "B moved down, inaudible to C")
        timings["move to audience → B inaudible to C (s)"] = moved
        assert moved <= 1.0, f"B was still heard {moved:.2f} s after being moved to the audience"
        assert await refused(b.speak(room, b_tone)) == "not_allowed"
        b_listening = await stack.enter_async_context(ToneMeter(await b.listen(room)))
        await until(b_listening, hears(A_HZ), "B, in the audience, hears A")

        # A removes B: B's media is torn down within 2 s, and B cannot come back.
        await a.call("remove", room_id=room, user_id=bob)
        removed_at = time.monotonic()
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:  # frames stop: nothing more arrives after the last one
                last = b_listening.last_frame_at or 0.0
                await asyncio.sleep(0.3)
                if b_listening.last_frame_at == last:
                    break
        torn_down = last - removed_at
        timings["remove → B's audio stops (s)"] = torn_down
        assert torn_down <= 2.0, f"B still received audio {torn_down:.2f} s after the removal"
        assert await refused(b.call("join", room_id=room)) == "removed_from_room"
        assert await refused(b.listen(room)) == "removed_from_room"
        await until(c_ears, hears(A_HZ), "the room goes on")
    return timings


def test_a_salon_room_carries_real_voices_and_the_server_enforces_roles(netns: NetNamespace, tmp_path: Path) -> None:
    timings = netns.run(lambda: scenario(tmp_path), timeout=WHOLE_TIMEOUT)
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.3f}")


async def restart_scenario(tmp_path: Path) -> dict[str, float]:
    """Janus killed mid-room: the app re-creates the room's media, clients reconnect on the ``media_reset`` signal,
    the listener hears the speaker again, and the room's state is exactly what it was."""
    timings: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        services = await salon_with_janus(stack, tmp_path)
        events = asyncio.create_task(run_media_events(services))
        stack.callback(events.cancel)
        mod, bob, cat = [await add_member(services, n) for n in ("moda", "bob", "cat")]
        room = (await create_room(services, mod, NewRoom("Restart", "", [], RoomType.OPEN)))["room"]["id"]
        port = await stack.enter_async_context(serve(services))
        base = f"http://127.0.0.1:{port}"
        a, b, c = [
            await stack.enter_async_context(SalonClient(base, await token(services, u))) for u in (mod, bob, cat)
        ]
        await a.speak(room, ToneTrack(A_HZ))
        await a.call("self_mute", room_id=room, muted=False)
        for member in (b, c):
            await member.call("join", room_id=room)
        await b.call("raise_hand", room_id=room)
        await c.call("subscribe", room_id=room)
        c_ears = await stack.enter_async_context(ToneMeter(await c.listen(room)))
        await until(c_ears, hears(A_HZ), "C hears A before the crash")
        before = await get_snapshot(services, mod, room)

        (janus_pid,) = janus_pids(config_folder(services.settings.data_dir))
        killed = time.monotonic()
        os.kill(janus_pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            await c.next_frame("signal", name="media_reset")
        timings["kill -9 → media_reset signal (s)"] = time.monotonic() - killed
        # What a client does on media_reset: open its connections again.
        await a.speak(room, ToneTrack(A_HZ))
        c_ears = await stack.enter_async_context(ToneMeter(await c.listen(room)))
        await until(c_ears, hears(A_HZ), "C hears A after the restart")
        back = time.monotonic() - killed
        timings["kill -9 → listener hears the speaker again (s)"] = back
        assert back <= 30.0
        after = await get_snapshot(services, mod, room)
        assert after == before, "roles, hands and mutes are exactly as they were"
    return timings


def test_a_janus_crash_mid_room_is_recovered_with_sound_and_state(netns: NetNamespace, tmp_path: Path) -> None:
    timings = netns.run(lambda: restart_scenario(tmp_path), timeout=WHOLE_TIMEOUT)
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.3f}")


def tone_levels(path: Path, frequencies: tuple[float, ...]) -> dict[float, float]:
    """The level (dB, relative to the loudest bin) of each frequency in a recorded WAV."""
    with wave.open(str(path), "rb") as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    bins = np.fft.rfftfreq(len(pcm), 1 / rate)
    peak = float(spectrum.max())
    return {f: 20 * float(np.log10(spectrum[int(np.argmin(np.abs(bins - f)))] / peak)) for f in frequencies}


async def processes_scenario(tmp_path: Path) -> dict[float, float]:
    """A (this process) and B (another process, ``python -m salon.client``) talk; C (a third process) records."""
    async with contextlib.AsyncExitStack() as stack:
        services = await salon_with_janus(stack, tmp_path)
        mod, bob, cat = [await add_member(services, n) for n in ("moda", "bob", "cat")]
        room = (await create_room(services, mod, NewRoom("Three processes", "", [], RoomType.OPEN)))["room"]["id"]
        port = await stack.enter_async_context(serve(services))
        base = f"http://127.0.0.1:{port}"
        a = await stack.enter_async_context(SalonClient(base, await token(services, mod)))
        a_ears = await stack.enter_async_context(ToneMeter(await a.speak(room, ToneTrack(A_HZ))))
        await a.call("self_mute", room_id=room, muted=False)
        await a.call("invite_up", room_id=room, user_id=bob)  # B joins straight onto the stage

        def bot(user_token: str, *extra: str) -> list[str]:
            return [sys.executable, "-m", "salon.client", "--url", base, "--token", user_token, "--room", room, *extra]

        recording = tmp_path / "c-heard.wav"
        b_proc = await asyncio.create_subprocess_exec(
            *bot(await token(services, bob), "--speak-tone", str(B_HZ), "--seconds", "20")
        )
        stack.push_async_callback(_stop, b_proc)
        await until(a_ears, hears(B_HZ), "A hears B, who speaks from another process")
        c_proc = await asyncio.create_subprocess_exec(
            *bot(await token(services, cat), "--record", str(recording), "--seconds", "3")
        )
        stack.push_async_callback(_stop, c_proc)
        async with asyncio.timeout(STEP_TIMEOUT + 10):
            assert await c_proc.wait() == 0
        return tone_levels(recording, (A_HZ, B_HZ, 660.0))


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def test_two_people_in_two_processes_talk_and_a_third_hears_both(netns: NetNamespace, tmp_path: Path) -> None:
    levels = netns.run(lambda: processes_scenario(tmp_path), timeout=WHOLE_TIMEOUT)
    print("C's recording, dB below its loudest bin:", {f: round(v, 1) for f, v in levels.items()})
    assert levels[A_HZ] > -6, "C hears A"
    assert levels[B_HZ] > -6, "C hears B"
    assert levels[660.0] < levels[A_HZ] - 30, "and not noise: a frequency nobody sent is far below"
