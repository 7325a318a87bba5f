"""Media signalling over the WebSocket, against the in-memory media plane: who may hear and speak, and the media
following the stage (moved down → the speaking connection is gone; removed → everything is refused)."""

from __future__ import annotations

from salon.app.audience import audience_tiers
from salon.app.fakes import FakeMedia
from salon.app.services import Services
from tests.api.test_ws import Client, Member, member, new_room, opener, services, settings, url

__all__ = ["services", "settings", "url"]  # the fixtures, shared with test_ws.py

OFFER = {"type": "offer", "sdp": "v=0 browser offer"}
ANSWER = {"type": "answer", "sdp": "v=0 browser answer"}


async def moderator_and_member(
    services: Services, url: str
) -> tuple[FakeMedia, str, tuple[Member, Client], tuple[Member, Client]]:
    """A room opened by a moderator (m) and another member (a), each connected and greeted: the media fake, the
    room, and both people (id and client)."""
    fake = services.media
    assert isinstance(fake, FakeMedia)
    open_client = opener(url)
    mod, ann = await member(services, "moda"), await member(services, "ann")
    room = await new_room(services, mod)
    m, a = await open_client(mod), await open_client(ann)
    for c in (m, a):
        await c.expect("hello")
    return fake, room, (mod, m), (ann, a)


async def test_hearing_speaking_and_the_stage(services: Services, url: str) -> None:
    fake, room, (_, m), (ann, a) = await moderator_and_member(services, url)

    assert await a.refused("media_listen", room_id=room) == "not_in_room", "join first"
    await a.call("join", room_id=room)
    offer = await a.call("media_listen", room_id=room)
    assert offer["jsep"]["type"] == "offer"
    assert await a.call("media_answer", room_id=room, jsep=ANSWER) == {"room_id": room}
    assert fake.connections[(room, ann.id, "listen")] == "open"
    candidate = {"candidate": "candidate:1 1 udp 2122260223 198.18.0.1 40000 typ host", "sdpMid": "0"}
    await a.call("media_candidate", room_id=room, media="listen", candidate=candidate)
    await a.call("media_candidate", room_id=room, media="listen", candidate=None)
    assert fake.candidates == [(room, ann.id, "listen")] * 2

    assert await a.refused("media_speak", room_id=room, jsep=OFFER) == "not_allowed", "a listener cannot publish"
    await m.call("invite_up", room_id=room, user_id=ann.id)
    await a.call("accept_invite", room_id=room)
    answer = await a.call("media_speak", room_id=room, jsep=OFFER)
    assert answer["jsep"]["type"] == "answer"
    assert (room, ann.id, "speak") in fake.connections

    await m.call("move_to_audience", room_id=room, user_id=ann.id)
    assert (room, ann.id, "speak") not in fake.connections, "moved down: the media plane dropped her stage"
    assert await a.refused("media_speak", room_id=room, jsep=OFFER) == "not_allowed"

    await m.call("remove", room_id=room, user_id=ann.id)
    assert not [k for k in fake.connections if k[1] == ann.id], "removed: every connection torn down"
    assert await a.refused("media_listen", room_id=room) == "removed_from_room"
    await a.call("media_close", room_id=room, media="listen")  # closing is always harmless


async def test_bad_signalling_input_is_refused_at_the_edge(services: Services, url: str) -> None:
    open_client = opener(url)
    mod = await member(services, "moda")
    room = await new_room(services, mod)
    m = await open_client(mod)
    await m.expect("hello")
    assert await m.refused("media_speak", room_id=room, jsep={"type": "answer", "sdp": "x"}) == "invalid_input"
    assert await m.refused("media_speak", room_id=room, jsep={"type": "offer", "sdp": ""}) == "invalid_input"
    huge = {"type": "offer", "sdp": "v" * 13000}
    assert await m.refused("media_speak", room_id=room, jsep=huge) == "invalid_input"
    assert await m.refused("media_candidate", room_id=room, media="video", candidate=None) == "invalid_input"
    assert await m.refused("media_answer", room_id=room, jsep=ANSWER) == "conflict", "no offer to answer"
    assert (await m.call("media_speak", room_id=room, jsep=OFFER))["jsep"]["type"] == "answer"


async def test_the_broadcast_tier_is_for_listeners_and_follows_the_stage(services: Services, url: str) -> None:
    fake, room, (mod, m), (ann, a) = await moderator_and_member(services, url)

    assert await a.refused("media_stream", room_id=room) == "not_in_room", "join first"
    await a.call("join", room_id=room)
    await a.call("media_listen", room_id=room)
    grant = await a.call("media_stream", room_id=room)
    assert set(grant) == {"room_id", "url", "expires_at"}
    assert grant["room_id"] == room
    assert (room, ann.id) in fake.streams, "the stream is bound to her connection"
    assert (room, ann.id, "listen") not in fake.connections, "one tier at a time: the WebRTC listener is closed"
    assert await audience_tiers(services, mod.id, room) == {"listeners": 1, "webrtc": 0, "broadcast": 1}
    assert await m.refused("media_stream", room_id=room) == "conflict", "the stage hears through its own connection"

    await m.call("invite_up", room_id=room, user_id=ann.id)
    await a.call("accept_invite", room_id=room)
    assert (room, ann.id) not in fake.streams, "on stage: her stream is cut"
    assert await a.refused("media_stream", room_id=room) == "conflict"

    await m.call("move_to_audience", room_id=room, user_id=ann.id)
    await a.call("media_stream", room_id=room)
    await m.call("remove", room_id=room, user_id=ann.id)
    assert (room, ann.id) not in fake.streams, "removed: her stream is cut"
    assert await a.refused("media_stream", room_id=room) == "removed_from_room"


async def test_a_listener_hears_a_channel_on_the_broadcast_tier(services: Services, url: str) -> None:
    fake, room, (_, m), (ann, a) = await moderator_and_member(services, url)
    await m.call("set_languages", room_id=room, floor="en", channels=["ru"])

    assert await a.refused("media_channel_stream", room_id=room, language="ru") == "not_in_room", "join first"
    await a.call("join", room_id=room)
    await a.call("media_listen", room_id=room)
    grant = await a.call("media_channel_stream", room_id=room, language="ru")
    assert set(grant) == {"room_id", "language", "url", "expires_at"}
    assert (grant["room_id"], grant["language"]) == (room, "ru")
    assert (room, ann.id) in fake.streams, "the stream is bound to her connection"
    assert fake.listening[(room, ann.id)] == "ru"
    assert (room, ann.id, "listen") not in fake.connections, "one tier at a time: the WebRTC listener is closed"
    assert await a.refused("media_channel_stream", room_id=room, language="de") == "not_found"
    assert await a.refused("media_channel_stream", room_id=room, language="r1") == "invalid_input"
    assert await m.refused("media_channel_stream", room_id=room, language="ru") == "conflict", "the stage hears live"

    await m.call("remove", room_id=room, user_id=ann.id)
    assert (room, ann.id) not in fake.streams, "removed: her channel stream is cut"
    assert await a.refused("media_channel_stream", room_id=room, language="ru") == "removed_from_room"


async def test_a_moderator_changes_the_ducking_live(services: Services, url: str) -> None:
    fake, room, (_, m), (_, a) = await moderator_and_member(services, url)
    await a.call("join", room_id=room)
    assert await m.refused("set_ducking", room_id=room, ducking_db=-30) == "not_found", "no channels yet"
    await m.call("set_languages", room_id=room, floor="en", channels=["ru", "fr"])
    assert await a.refused("set_ducking", room_id=room, ducking_db=-30) == "not_allowed"
    for bad in (-41, 0, "-30", None):
        assert await m.refused("set_ducking", room_id=room, ducking_db=bad) == "invalid_input", bad
    done = await m.call("set_ducking", room_id=room, ducking_db=-30)
    assert set(done) == {"seq"}
    assert fake.channels == {(room, "ru"): -30, (room, "fr"): -30}
