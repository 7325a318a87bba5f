"""``FakeMedia``'s per-speaker mix behaves like the port says, so app and web tests built on it mean something:
tracks follow the admitted speakers by the domain rule, a change is a ``speaker_tracks`` event, only listeners may
open it, and the room's cap refuses with ``MediaFull``."""

from __future__ import annotations

import pytest

from salon.app.fakes import FakeMedia
from salon.app.ports import MediaEvent, MediaFull, MediaRefused


def drain(media: FakeMedia) -> list[MediaEvent]:
    events = []
    while not media.queue.empty():
        events.append(media.queue.get_nowait())
    return events


async def test_tracks_follow_the_stage_and_each_change_is_an_event() -> None:
    media = FakeMedia()
    await media.create_room("r")
    for user in ("a", "b", "c", "d", "e"):
        await media.admit("r", user, "speaker", True)
    assert media.speaker_tracks("r") == {"a": "t0", "b": "t1", "c": "t2", "d": "t3", "e": "others"}
    assert drain(media) == [MediaEvent("r", "speaker_tracks")] * 5
    await media.admit("r", "a", "listener", False)  # moved down: e takes t0
    assert media.speaker_tracks("r") == {"e": "t0", "b": "t1", "c": "t2", "d": "t3"}
    await media.set_muted("r", "b", False)
    await media.admit("r", "b", "speaker", False)  # nothing moves: no event
    assert drain(media) == [MediaEvent("r", "speaker_tracks")]
    await media.remove("r", "e")
    assert media.speaker_tracks("r") == {"b": "t1", "c": "t2", "d": "t3"}
    await media.destroy_room("r")
    assert media.speaker_tracks("r") == {}


async def test_only_listeners_open_it_up_to_the_cap_and_it_replaces_the_listen() -> None:
    media = FakeMedia(speaker_mix_max_listeners=1)
    await media.create_room("r")
    await media.admit("r", "s", "speaker", False)
    await media.admit("r", "l1", "listener", False)
    await media.admit("r", "l2", "listener", False)
    with pytest.raises(MediaRefused):
        await media.open_speaker_mix("r", "s")
    await media.open_listen("r", "l1")
    await media.open_speaker_mix("r", "l1")
    assert media.connections[("r", "l1", "listen")] == "offered"
    await media.open_speaker_mix("r", "l1")  # again: replaces its own, not counted twice
    with pytest.raises(MediaFull):
        await media.open_speaker_mix("r", "l2")
    await media.answer_listen("r", "l1", {"type": "answer", "sdp": "v=0"})
    with pytest.raises(MediaRefused):
        await media.switch_listen("r", "l1", None)
    await media.open_listen("r", "l1")  # back to the one mix frees a place
    await media.open_speaker_mix("r", "l2")
    await media.close("r", "l2", "listen")
    await media.open_speaker_mix("r", "l1")
