"""JanusMedia (the media port on Janus) against an in-memory Janus: what it asks Janus for, what it refuses on its
own, the events it makes of Janus's, and how it gets over a lost session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.media_rooms import room_secret
from salon.adapters.janus.plugins import AUDIOBRIDGE, STREAMING, janus_id
from salon.adapters.janus.transport import JanusUnavailable
from salon.app.media_health import JanusNodeHealth
from salon.app.ports import ALL_ROOMS, MediaEvent, MediaRefused
from tests.support.fake_janus import ADMIN_KEY, ANSWER, OFFER, FakeJanus, FakeMessage, FakeSession

URL = "http://127.0.0.1:8088/janus"
ROOM, OTHER_ROOM = "room-1", "room-2"
JROOM = janus_id(ROOM)
CLIENT_OFFER = {"type": "offer", "sdp": "v=0\r\no=- 3 3 IN IP4 127.0.0.1\r\n"}
CLIENT_ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 4 4 IN IP4 127.0.0.1\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


@pytest.fixture
def janus() -> FakeJanus:
    return FakeJanus()


@pytest.fixture
async def media(janus: FakeJanus) -> AsyncIterator[JanusMedia]:
    async with janus.client() as client, JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client) as media:
        yield media


@pytest.fixture
async def events(media: JanusMedia) -> AsyncIterator[asyncio.Queue[MediaEvent]]:
    """The media events but ``speaker_tracks`` (tests/unit/adapters/janus/test_speaker_mix.py has those), collected
    by a task: a timed-out ``anext`` would end the generator itself."""
    queue: asyncio.Queue[MediaEvent] = asyncio.Queue()

    async def collect() -> None:
        async for event in media.events():
            if event.kind != "speaker_tracks":
                queue.put_nowait(event)

    task = asyncio.create_task(collect())
    yield queue
    task.cancel()


def session_of(janus: FakeJanus) -> FakeSession:
    [session] = janus.sessions.values()
    return session


def user_handles(janus: FakeJanus) -> list[int]:
    """The handles opened for users: every handle but the two control handles, attached first."""
    return sorted(session_of(janus).handles)[2:]


async def next_event(events: asyncio.Queue[MediaEvent], wait: float = 1.0) -> MediaEvent:
    return await asyncio.wait_for(events.get(), wait)


async def no_event(events: asyncio.Queue[MediaEvent], wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await next_event(events, wait)


def push_talking(janus: FakeJanus, user_id: str, kind: str, *, to: list[int], room: int = JROOM) -> None:
    session = session_of(janus)
    for handle in to:
        data = {"audiobridge": kind, "room": room, "id": janus_id(user_id)}
        janus.push(
            session.id, {"janus": "event", "sender": handle, "plugindata": {"plugin": AUDIOBRIDGE, "data": data}}
        )


async def on_stage(media: JanusMedia, user_id: str, *, muted: bool = False, room: str = ROOM) -> None:
    await media.admit(room, user_id, "speaker", muted)
    assert await media.open_speak(room, user_id, CLIENT_OFFER) == ANSWER


# --- rooms -------------------------------------------------------------------------------------------------------


async def test_a_room_is_a_stage_forwarded_to_a_loopback_mountpoint(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)

    [create] = janus.bodies("create")[:1]
    assert create["room"] == JROOM
    assert (create["sampling_rate"], create["audiolevel_event"]) == (48000, True)
    assert (create["audio_active_packets"], create["audio_level_average"]) == (15, 40)
    assert create["secret"] == room_secret(ADMIN_KEY, "room", ROOM)
    assert create["is_private"] is True
    [mount] = janus.bodies("create")[1:]
    assert mount["id"] == JROOM
    assert mount["media"][0] | {"port": 0, "iface": "127.0.0.1", "pt": 111, "codec": "opus"} == mount["media"][0]
    port = janus.model.mountpoints[JROOM]["port"]
    [forwarder] = janus.model.rooms[JROOM]["forwarders"].values()
    assert (forwarder["host"], forwarder["port"], forwarder["ptype"], forwarder["always_on"]) == (
        "127.0.0.1",
        port,
        111,
        True,
    )


async def test_creating_a_room_again_changes_nothing(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    sent = len(janus.requests)

    await media.create_room(ROOM)

    assert len(janus.requests) == sent


async def test_a_room_left_in_janus_by_an_earlier_app_is_repaired_not_duplicated(janus: FakeJanus) -> None:
    async with janus.client() as client:
        async with JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client) as first:
            await first.create_room(ROOM)
        port = janus.model.mountpoints[JROOM]["port"]
        [kept] = janus.model.rooms[JROOM]["forwarders"]
        janus.model.rooms[JROOM]["forwarders"][99] = {**janus.model.rooms[JROOM]["forwarders"][kept], "port": 1}

        async with JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client) as second:
            await second.create_room(ROOM)
            await second.admit(ROOM, "ada", "listener", True)
            assert (await second.open_listen(ROOM, "ada"))["type"] == "offer"

    # The same mountpoint and port, the right forwarder kept, the stray one stopped.
    assert janus.model.mountpoints[JROOM]["port"] == port
    assert list(janus.model.rooms[JROOM]["forwarders"]) == [kept]


async def test_destroying_a_room_tears_everything_down_and_can_be_repeated(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await media.create_room(OTHER_ROOM)
    await on_stage(media, "ada")
    await media.admit(ROOM, "bob", "listener", True)
    await media.open_listen(ROOM, "bob")
    assert len(user_handles(janus)) == 2

    await media.destroy_room(ROOM)

    assert JROOM not in janus.model.rooms
    assert JROOM not in janus.model.mountpoints
    assert user_handles(janus) == []
    assert janus.bodies("destroy")[0]["secret"] == room_secret(ADMIN_KEY, "room", ROOM)
    await media.destroy_room(ROOM)
    await media.destroy_room("never-created")
    assert janus.model.rooms.keys() == {janus_id(OTHER_ROOM)}
    # The room's admissions went with it: creating it again does not let anyone in.
    await media.create_room(ROOM)
    with pytest.raises(MediaRefused):
        await media.open_listen(ROOM, "bob")


# --- admission -----------------------------------------------------------------------------------------------------


async def test_connections_are_refused_without_the_right_admission(media: JanusMedia) -> None:
    await media.admit("not-created", "ada", "speaker", False)
    with pytest.raises(MediaRefused):
        await media.open_listen("not-created", "ada")
    await media.create_room(ROOM)
    with pytest.raises(MediaRefused):
        await media.open_listen(ROOM, "stranger")
    with pytest.raises(MediaRefused):
        await media.open_speak(ROOM, "stranger", CLIENT_OFFER)
    await media.admit(ROOM, "bob", "listener", True)
    with pytest.raises(MediaRefused, match="as a speaker"):
        await media.open_speak(ROOM, "bob", CLIENT_OFFER)
    with pytest.raises(MediaRefused):
        await media.answer_listen(ROOM, "bob", CLIENT_ANSWER)  # nothing offered yet
    with pytest.raises(MediaRefused):
        await media.add_candidate(ROOM, "bob", "listen", CANDIDATE)  # no such connection

    await media.admit(ROOM, "ada", "speaker", False)
    await media.remove(ROOM, "ada")
    with pytest.raises(MediaRefused):
        await media.open_speak(ROOM, "ada", CLIENT_OFFER)
    await media.destroy_room(ROOM)
    with pytest.raises(MediaRefused):
        await media.open_listen(ROOM, "bob")


async def test_a_listener_hears_through_a_handle_of_their_own(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "bob", "listener", True)

    offer = await media.open_listen(ROOM, "bob")
    await media.add_candidate(ROOM, "bob", "listen", CANDIDATE)
    await media.answer_listen(ROOM, "bob", CLIENT_ANSWER)
    await media.add_candidate(ROOM, "bob", "listen", None)

    assert offer == OFFER
    assert janus.bodies("watch") == [{"request": "watch", "id": JROOM}]
    [start] = [r for r in janus.sent("message") if r["body"]["request"] == "start"]
    assert start["jsep"] == CLIENT_ANSWER
    assert [r["candidate"] for r in janus.sent("trickle")] == [CANDIDATE, {"completed": True}]
    with pytest.raises(MediaRefused):
        await media.answer_listen(ROOM, "bob", CLIENT_ANSWER)  # answered already
    with pytest.raises(MediaRefused):
        await media.answer_listen(ROOM, "bob", CLIENT_OFFER)  # not an answer


async def test_listening_again_replaces_the_older_connection(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "bob", "listener", True)
    await media.open_listen(ROOM, "bob")
    [first] = user_handles(janus)

    await media.open_listen(ROOM, "bob")

    [second] = user_handles(janus)
    assert second != first
    await media.close(ROOM, "bob", "listen")
    assert user_handles(janus) == []
    with pytest.raises(MediaRefused):
        await media.add_candidate(ROOM, "bob", "listen", CANDIDATE)


async def test_a_speaker_joins_with_their_id_their_mute_and_a_short_prebuffer(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)

    await on_stage(media, "ada", muted=True)

    [join] = [r for r in janus.sent("message") if r["body"]["request"] == "join"]
    assert join["body"] == {
        "request": "join",
        "room": JROOM,
        "id": janus_id("ada"),
        "display": "ada",
        "muted": True,
        "prebuffer": 2,
        "group": "t0",  # the first speaker's track of the per-speaker mix (test_speaker_mix.py)
    }
    assert join["jsep"] == CLIENT_OFFER


async def test_moving_a_speaker_to_the_audience_detaches_their_speaking_handle_at_once(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)
    await media.open_listen(ROOM, "ada")
    await media.open_speak(ROOM, "ada", CLIENT_OFFER)
    listen, speak = user_handles(janus)

    await media.admit(ROOM, "ada", "listener", False)

    assert user_handles(janus) == [listen]  # detached before admit returned
    with pytest.raises(MediaRefused):
        await media.add_candidate(ROOM, "ada", "speak", CANDIDATE)
    with pytest.raises(MediaRefused):
        await media.open_speak(ROOM, "ada", CLIENT_OFFER)
    assert speak not in session_of(janus).handles


async def test_removing_someone_ends_both_their_connections(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)
    await media.open_listen(ROOM, "ada")
    await media.open_speak(ROOM, "ada", CLIENT_OFFER)

    await media.remove(ROOM, "ada")
    await media.remove(ROOM, "ada")

    assert user_handles(janus) == []


async def test_mute_is_applied_in_janus_and_remembered_for_the_next_join(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "ada", muted=True)
    secret = room_secret(ADMIN_KEY, "room", ROOM)

    await media.set_muted(ROOM, "ada", False)
    await media.set_muted(ROOM, "ada", True)
    await media.admit(ROOM, "ada", "speaker", False)  # re-admitted unmuted: applied too

    expected = [
        {"request": kind, "room": JROOM, "id": janus_id("ada"), "secret": secret}
        for kind in ("unmute", "mute", "unmute")
    ]
    assert [b for b in janus.bodies() if b["request"] in ("mute", "unmute")] == expected
    assert janus.model.rooms[JROOM]["participants"][janus_id("ada")]["muted"] is False

    await media.close(ROOM, "ada", "speak")
    await media.set_muted(ROOM, "ada", True)  # no connection: nothing to ask Janus, but remembered
    assert len([b for b in janus.bodies() if b["request"] in ("mute", "unmute")]) == 3
    janus.model.rooms[JROOM]["participants"].clear()  # the fake does not unseat a detached handle
    await media.open_speak(ROOM, "ada", CLIENT_OFFER)
    assert janus.bodies("join")[-1]["muted"] is True


async def test_two_tabs_opening_at_once_end_with_one_connection(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)

    answers = await asyncio.gather(*(media.open_speak(ROOM, "ada", CLIENT_OFFER) for _ in range(2)))

    assert answers == [ANSWER, ANSWER]
    assert len(user_handles(janus)) == 1
    # Serialised: the second join came after the first handle was detached, never beside it.
    kinds = [r["janus"] if r["janus"] != "message" else r["body"]["request"] for r in janus.requests]
    assert kinds[-4:] == ["join", "detach", "attach", "join"]


async def test_a_refused_offer_is_the_clients_mistake_unless_janus_lost_the_room(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)
    model = janus.responder

    def refuse(code: int) -> Any:
        def respond(message: FakeMessage) -> Any:
            if message.body.get("request") == "join":
                return {"audiobridge": "event", "error_code": code, "error": "Error processing SDP"}
            return model(message)

        return respond

    janus.responder = refuse(493)
    with pytest.raises(MediaRefused, match="Error processing SDP"):
        await media.open_speak(ROOM, "ada", CLIENT_OFFER)
    janus.responder = refuse(485)
    with pytest.raises(JanusUnavailable):
        await media.open_speak(ROOM, "ada", CLIENT_OFFER)
    with pytest.raises(MediaRefused, match="expected an SDP offer"):
        await media.open_speak(ROOM, "ada", CLIENT_ANSWER)
    await asyncio.sleep(0.05)  # the failed handles are detached in the background
    assert user_handles(janus) == []


# --- events --------------------------------------------------------------------------------------------------------


async def test_talking_events_become_one_transition_each_with_the_user_id(
    janus: FakeJanus, media: JanusMedia, events: asyncio.Queue[MediaEvent]
) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "ada")
    await on_stage(media, "bob")
    both = user_handles(janus)

    push_talking(janus, "ada", "talking", to=both)  # every participant's handle hears it
    push_talking(janus, "nobody", "talking", to=both)
    push_talking(janus, "ada", "talking", to=both, room=janus_id(OTHER_ROOM))
    push_talking(janus, "ada", "stopped-talking", to=both)

    assert await next_event(events) == MediaEvent(ROOM, "speaking", "ada")
    assert await next_event(events) == MediaEvent(ROOM, "stopped_speaking", "ada")
    await no_event(events)


async def test_a_muted_speaker_is_never_reported_speaking_and_muting_stops_it(
    janus: FakeJanus, media: JanusMedia, events: asyncio.Queue[MediaEvent]
) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "ada", muted=True)
    [handle] = user_handles(janus)
    push_talking(janus, "ada", "talking", to=[handle])
    await no_event(events)

    await media.set_muted(ROOM, "ada", False)
    push_talking(janus, "ada", "talking", to=[handle])
    assert await next_event(events) == MediaEvent(ROOM, "speaking", "ada")
    await media.set_muted(ROOM, "ada", True)
    assert await next_event(events) == MediaEvent(ROOM, "stopped_speaking", "ada")

    await media.set_muted(ROOM, "ada", False)
    push_talking(janus, "ada", "talking", to=[handle])
    assert await next_event(events) == MediaEvent(ROOM, "speaking", "ada")
    await media.admit(ROOM, "ada", "listener", False)  # off the stage mid-sentence
    assert await next_event(events) == MediaEvent(ROOM, "stopped_speaking", "ada")


async def test_a_connection_janus_hangs_up_is_reported_and_let_go(
    janus: FakeJanus, media: JanusMedia, events: asyncio.Queue[MediaEvent]
) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "bob", "listener", True)
    await media.open_listen(ROOM, "bob")
    [handle] = user_handles(janus)

    janus.push(session_of(janus).id, {"janus": "hangup", "sender": handle, "reason": "DTLS alert"})

    assert await next_event(events) == MediaEvent(ROOM, "hung_up", "bob", "listen")
    await asyncio.sleep(0.05)
    assert user_handles(janus) == []
    with pytest.raises(MediaRefused):
        await media.add_candidate(ROOM, "bob", "listen", CANDIDATE)
    # Our own hang-ups are not reported back.
    await media.open_listen(ROOM, "bob")
    await media.close(ROOM, "bob", "listen")
    await no_event(events)


async def test_a_lost_session_resets_every_live_room_and_a_new_one_takes_over(
    janus: FakeJanus, media: JanusMedia, events: asyncio.Queue[MediaEvent]
) -> None:
    await media.create_room(ROOM)
    await media.create_room(OTHER_ROOM)
    await on_stage(media, "ada")
    push_talking(janus, "ada", "talking", to=user_handles(janus))
    assert await next_event(events) == MediaEvent(ROOM, "speaking", "ada")
    await media.admit(OTHER_ROOM, "bob", "listener", True)
    await media.destroy_room(OTHER_ROOM)

    janus.restart()  # every session and room gone
    janus.model.rooms.clear()
    janus.model.mountpoints.clear()

    assert [await next_event(events) for _ in range(2)] == [
        MediaEvent(ROOM, "stopped_speaking", "ada"),
        MediaEvent(ALL_ROOMS, "media_reset"),
    ]
    await no_event(events)
    await media.reconnect(timeout=5)
    assert len(janus.sessions) == 1
    with pytest.raises(MediaRefused):
        await media.open_speak(ROOM, "ada", CLIENT_OFFER)  # not re-created yet
    await media.create_room(ROOM)
    # Admission is the app's word and survives; it re-admits everyone anyway.
    assert await media.open_speak(ROOM, "ada", CLIENT_OFFER) == ANSWER
    assert JROOM in janus.model.rooms


async def test_while_janus_is_down_calls_fail_as_unavailable_and_reconnect_waits(
    janus: FakeJanus, media: JanusMedia, events: asyncio.Queue[MediaEvent]
) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "bob", "listener", True)
    janus.down = True
    janus.restart()

    assert await next_event(events, wait=5) == MediaEvent(ALL_ROOMS, "media_reset")
    with pytest.raises(JanusUnavailable):
        await media.reconnect(timeout=0.3)
    with pytest.raises(JanusUnavailable):
        await media.open_listen(ROOM, "bob")
    with pytest.raises(JanusUnavailable):
        await media.create_room(ROOM)
    await media.set_muted(ROOM, "bob", False)  # bookkeeping only: nothing to ask Janus
    await media.destroy_room(OTHER_ROOM)  # remembered, torn down once Janus is back

    janus.down = False
    await media.reconnect(timeout=10)

    await media.create_room(ROOM)
    await media.admit(ROOM, "bob", "listener", True)
    assert (await media.open_listen(ROOM, "bob"))["type"] == "offer"
    other = {"request": "destroy", "room": janus_id(OTHER_ROOM), "permanent": False}
    assert other | {"secret": room_secret(ADMIN_KEY, "room", OTHER_ROOM)} in janus.bodies("destroy")


async def test_closing_ends_the_session_and_the_event_stream(janus: FakeJanus) -> None:
    async with janus.client() as client:
        media = JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client)
        await media.start()
        await media.create_room(ROOM)
        events = media.events()
        waiting = asyncio.create_task(anext(events, None))

        await media.aclose()

        assert await asyncio.wait_for(waiting, 1) is None
        assert janus.sessions == {}
        assert [t for t in asyncio.all_tasks() if t.get_name().startswith("janus-") and not t.done()] == []
        with pytest.raises(JanusUnavailable):
            await media.reconnect()


def test_room_secrets_are_derived_from_the_admin_key_and_differ_per_room_and_kind() -> None:
    secrets = {room_secret(key, kind, room) for key in ("k1", "k2") for kind in ("room", "mountpoint") for room in "ab"}

    assert len(secrets) == 8
    assert room_secret("k1", "room", "a") == room_secret("k1", "room", "a")
    assert all(len(s) == 32 for s in secrets)


async def test_streaming_handles_are_used_for_listening_and_audiobridge_for_speaking(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)
    await media.open_listen(ROOM, "ada")
    await media.open_speak(ROOM, "ada", CLIENT_OFFER)

    handles = session_of(janus).handles
    assert [handles[h] for h in user_handles(janus)] == [STREAMING, AUDIOBRIDGE]


async def until_health(media: JanusMedia, check: Callable[[JanusNodeHealth], bool], wait: float = 2.0) -> None:
    async with asyncio.timeout(wait):
        while not check((await media.health()).janus[0]):  # noqa: ASYNC110 - counts kept by the adapter's tasks
            await asyncio.sleep(0.01)


async def test_events_lost_to_a_full_queue_are_counted_and_the_count_outlives_the_session(janus: FakeJanus) -> None:
    """A reader that falls behind loses the oldest events: Janus's (the long poll never waits for the adapter) and
    the adapter's media events (never waiting for the app). Both counts are in ``health`` for the metrics."""
    async with (
        janus.client() as client,
        JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client, session_queue=3, event_queue=2) as media,
    ):
        first = session_of(janus)
        for _ in range(8):  # one long-poll answer of 8 events, put in a queue of 3 before the pump can read one
            janus.push(first.id, {"janus": "media", "sender": 1, "type": "audio", "receiving": True})
        await until_health(media, lambda node: node.session_events_dropped == 5)

        await media.create_room(ROOM)
        await on_stage(media, "ada")
        for kind in ("talking", "stopped-talking", "talking"):  # three transitions; nobody reads media.events()
            push_talking(janus, "ada", kind, to=user_handles(janus)[-1:])
        # ada's speaker_tracks and the first transition pushed out by the last two
        await until_health(media, lambda node: node.app_events_dropped == 2)

        janus.restart()
        async with asyncio.timeout(5):  # the loss is seen and a new session opened, in the background
            while not janus.sessions:  # noqa: ASYNC110 - a fake's dict
                await asyncio.sleep(0.01)
        await media.reconnect(timeout=5)
        assert session_of(janus) is not first
        node = (await media.health()).janus[0]
        assert node.session_events_dropped == 5  # the lost session's losses are still counted
        assert node.app_events_dropped >= 3  # stopped_speaking and media_reset pushed the oldest out
