"""Interpretation channels with real sound through Salon itself: the app's routes and WebSocket ops, its rules and its
managed Janus, driven by aiortc members (``SalonClient``) inside a private network namespace.

A, the moderator, speaks 440 Hz on the floor; the room declares ``en`` with a ``ru`` channel; A assigns I as the
``ru`` interpreter and I, live, sends 660 Hz into the channel. C listens: on the Original it hears 440 Hz and no
660 Hz; picking ``ru`` (``media_pick_language``, the same connection) it hears 660 Hz with 440 Hz at least 10 dB
below; back on the Original, 660 Hz is gone. Then A removes I's role: the channel falls back to the floor (660 Hz
gone within 2 s, 440 Hz back at full level for a listener of ``ru``). What each one hears is measured on the audio
that arrived (``ToneMeter``), never read off the app's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from salon.app.media_events import run_media_events
from salon.app.rooms import NewRoom, create_room
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from salon.domain.interpretation import RoomLanguages
from salon.domain.rooms import RoomType
from tests.integration.media.test_sound_through_salon import salon_with_janus, token
from tests.support.live_server import serve
from tests.support.netns import NetNamespace
from tests.support.people import add_member

FLOOR_HZ, BOOTH_HZ = 440.0, 660.0
HEARD_DBFS = -30.0  # a tone sent at amplitude 0.3 arrives near -13 dBFS
SILENT_DBFS = -45.0
STEP_TIMEOUT = 10.0
WHOLE_TIMEOUT = 120.0
DUCKED_BY_AT_LEAST_DB = 10.0  # the bound (the room's setting here: -15 dB)


def level(ears: ToneMeter, frequency: float, seconds: float = 0.5) -> float:
    """The median per-frame level of ``frequency`` over the last ``seconds``."""
    levels = ears.frame_tone_levels(frequency, seconds)
    return statistics.median(levels) if levels else -200.0


def hears(frequency: float) -> Callable[[ToneMeter], bool]:
    return lambda ears: level(ears, frequency) >= HEARD_DBFS


def deaf_to(frequency: float) -> Callable[[ToneMeter], bool]:
    return lambda ears: bool(ears.frame_tone_levels(frequency, 0.3)) and level(ears, frequency, 0.3) < SILENT_DBFS


def ducked(ears: ToneMeter) -> bool:
    """The channel's mix: the interpreter, and the floor at least 10 dB under them."""
    return hears(BOOTH_HZ)(ears) and level(ears, FLOOR_HZ) <= level(ears, BOOTH_HZ) - DUCKED_BY_AT_LEAST_DB


async def until(ears: ToneMeter, predicate: Callable[[ToneMeter], bool], what: str) -> float:
    started = time.monotonic()
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            await ears.wait_until(predicate)
    except TimeoutError:
        raise AssertionError(
            f"waited {STEP_TIMEOUT:g} s for: {what} (440 Hz at {level(ears, FLOOR_HZ):.0f} dBFS, "
            f"660 Hz at {level(ears, BOOTH_HZ):.0f} dBFS)"
        ) from None
    return time.monotonic() - started


async def steady(ears: ToneMeter, seconds: float = 1.0) -> None:
    """Wait for ``seconds`` more of audio, so that a level is judged on the settled mix, not on its first frames."""
    since = time.monotonic()
    async with asyncio.timeout(STEP_TIMEOUT):
        await ears.wait_until(lambda m: m.last_frame_at is not None and m.last_frame_at - since >= seconds)


async def scenario(tmp_path: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        services = await salon_with_janus(stack, tmp_path)
        events = asyncio.create_task(run_media_events(services))
        stack.callback(events.cancel)
        mod, ivan, cat = [await add_member(services, n) for n in ("moda", "ivan", "cat")]
        spec = NewRoom("Two languages", "", [], RoomType.OPEN, languages=RoomLanguages("en", ("ru",)))
        room = (await create_room(services, mod, spec))["room"]["id"]
        port = await stack.enter_async_context(serve(services))
        base = f"http://127.0.0.1:{port}"
        a, i, c = [
            await stack.enter_async_context(SalonClient(base, await token(services, u))) for u in (mod, ivan, cat)
        ]

        await a.speak(room, ToneTrack(FLOOR_HZ))
        await a.call("self_mute", room_id=room, muted=False)
        for member in (i, c):
            await member.call("join", room_id=room)
        await a.call("assign_interpreter", room_id=room, language="ru", user_id=ivan)
        await i.call("take_booth", room_id=room, language="ru")
        await i.interpret(room, "ru", ToneTrack(BOOTH_HZ))

        c_ears = await stack.enter_async_context(ToneMeter(await c.listen(room)))
        await until(c_ears, lambda e: hears(FLOOR_HZ)(e) and deaf_to(BOOTH_HZ)(e), "C on the Original: 440 Hz only")
        found["original: 660 Hz (dBFS)"] = level(c_ears, BOOTH_HZ)

        await c.call("media_pick_language", room_id=room, language="ru")
        found["pick ru → interpreter over the ducked floor (s)"] = await until(
            c_ears, ducked, "C on ru: 660 Hz over 440"
        )
        await steady(c_ears)
        found["ru: 440 Hz under 660 Hz (dB)"] = level(c_ears, BOOTH_HZ, 1.0) - level(c_ears, FLOOR_HZ, 1.0)

        # A, on stage, hears the floor through the stage already: on ru, A gets the interpreter and no second copy of
        # the floor (nor of A's own voice).
        a_ears = await stack.enter_async_context(ToneMeter(await a.listen(room, "ru")))
        await until(a_ears, lambda e: hears(BOOTH_HZ)(e) and deaf_to(FLOOR_HZ)(e), "A on ru: the interpreter only")
        await steady(a_ears)
        found["speaker on ru: 440 Hz (dBFS)"] = level(a_ears, FLOOR_HZ, 1.0)
        assert found["speaker on ru: 440 Hz (dBFS)"] < SILENT_DBFS

        await c.call("media_pick_language", room_id=room, language=None)
        found["pick Original → 660 Hz gone (s)"] = await until(c_ears, deaf_to(BOOTH_HZ), "C back on the Original")

        await c.call("media_pick_language", room_id=room, language="ru")
        await until(c_ears, ducked, "C on ru again")
        asked = time.monotonic()
        await a.call("remove_interpreter", room_id=room, language="ru", user_id=ivan)
        await until(c_ears, deaf_to(BOOTH_HZ), "the removed interpreter's voice gone from ru")
        cut = time.monotonic() - asked
        found["remove interpreter → 660 Hz gone (s)"] = cut
        assert cut <= 2.0, f"the removed interpreter was heard {cut:.2f} s after the removal"
        await until(c_ears, hears(FLOOR_HZ), "ru falls back to the floor")
        await steady(c_ears)
        found["ru with nobody live: 440 Hz (dBFS)"] = level(c_ears, FLOOR_HZ, 1.0)
    return found


def test_a_listener_picks_a_channel_and_hears_its_interpreter_through_salon(
    netns: NetNamespace, tmp_path: Path
) -> None:
    found = netns.run(lambda: scenario(tmp_path), timeout=WHOLE_TIMEOUT)
    for name, value in found.items():
        print(f"{name}: {value:.2f}")
    assert found["ru: 440 Hz under 660 Hz (dB)"] >= DUCKED_BY_AT_LEAST_DB
