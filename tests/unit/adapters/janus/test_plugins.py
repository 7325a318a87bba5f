"""The AudioBridge and Streaming wrappers against an in-memory Janus: what they send, how they read the answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_ROOM_EXISTS,
    AUDIOBRIDGE_UNAUTHORIZED,
    STREAMING,
    STREAMING_NO_SUCH_MOUNTPOINT,
    STREAMING_UNAUTHORIZED,
    AudioBridge,
    Participant,
    Streaming,
    janus_id,
)
from salon.adapters.janus.transport import JanusError, JanusSession, JanusTransport, JanusUnavailable
from salon.domain.forward_keys import KEY_BYTES, ForwardKey
from tests.support.fake_janus import ANSWER, OFFER, FakeJanus, FakeMessage, Later

ROOM = 4242
MOUNT = 5151


@pytest.fixture
def janus() -> FakeJanus:
    return FakeJanus()


@pytest.fixture
async def session(janus: FakeJanus) -> AsyncIterator[JanusSession]:
    url = "http://127.0.0.1:8088/janus"
    async with janus.client() as client, JanusTransport(url, api_secret=janus.api_secret, client=client) as transport:
        session = await transport.create_session(event_timeout=1.0)
        yield session
        await session.aclose()


@pytest.fixture
async def bridge(session: JanusSession) -> AudioBridge:
    return AudioBridge(await session.attach(AUDIOBRIDGE), admin_key="adm1n", room_secret="r00m")


@pytest.fixture
async def streaming(session: JanusSession) -> Streaming:
    return Streaming(await session.attach(STREAMING), admin_key="adm1n")


def test_janus_id_is_deterministic_positive_and_json_safe() -> None:
    ids = {janus_id(f"room{n}") for n in range(2000)}

    assert len(ids) == 2000
    assert all(0 < i < 2**53 for i in ids)
    assert janus_id("k3z5wq0r6b1n8d2m4p7t9v") == janus_id("k3z5wq0r6b1n8d2m4p7t9v")
    # Pinned: every Salon instance talking to one Janus must map a room to the same id, across upgrades too.
    assert janus_id("room") == 1597556122314155


async def test_create_sends_the_room_settings_with_the_keys(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM, description="Friday chat")

    assert janus.bodies("create") == [
        {
            "request": "create",
            "room": ROOM,
            "permanent": False,
            "is_private": True,
            "sampling_rate": 48000,
            "audiolevel_event": True,
            "audio_active_packets": 50,
            "audio_level_average": 25,
            "admin_key": "adm1n",
            "secret": "r00m",
            "description": "Friday chat",
        }
    ]
    assert await bridge.exists(ROOM)
    assert not await bridge.exists(ROOM + 1)


async def test_create_twice_and_a_wrong_admin_key_are_refused(session: JanusSession, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)
    with pytest.raises(JanusError) as caught:
        await bridge.create(ROOM)
    assert caught.value.code == AUDIOBRIDGE_ROOM_EXISTS

    intruder = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key="guess")
    with pytest.raises(JanusError) as caught:
        await intruder.create(ROOM + 1)
    assert (caught.value.code, caught.value.plugin) == (AUDIOBRIDGE_UNAUTHORIZED, AUDIOBRIDGE)


async def test_destroy_removes_the_room(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)
    await bridge.destroy(ROOM)

    assert janus.bodies("destroy") == [{"request": "destroy", "room": ROOM, "permanent": False, "secret": "r00m"}]
    assert not await bridge.exists(ROOM)
    with pytest.raises(JanusError) as caught:
        await bridge.destroy(ROOM)
    assert caught.value.code == AUDIOBRIDGE_NO_SUCH_ROOM


async def test_join_sends_the_offer_and_returns_the_answer_from_the_joined_event(
    janus: FakeJanus, session: JanusSession, bridge: AudioBridge
) -> None:
    await bridge.create(ROOM)
    first = await bridge.join(ROOM, OFFER, participant_id=11, display="ada", muted=True, prebuffer=2)
    second = await AudioBridge(await session.attach(AUDIOBRIDGE)).join(ROOM, OFFER, display="bob", muted=False)

    assert janus.bodies("join")[0] == {
        "request": "join", "room": ROOM, "muted": True, "id": 11, "display": "ada", "prebuffer": 2,
    }  # fmt: skip
    assert janus.sent("message")[-1]["jsep"] == OFFER
    assert (first.room, first.participant_id, first.participants, first.jsep) == (ROOM, 11, [], ANSWER)
    assert second.participants == [Participant(id=11, display="ada", setup=False, muted=True, talking=None)]


async def test_a_moderator_mutes_unmutes_and_kicks_with_the_room_secret(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)
    await bridge.join(ROOM, OFFER, participant_id=11, muted=False)

    await bridge.mute(ROOM, 11)
    assert [p.muted for p in await bridge.list_participants(ROOM)] == [True]
    await bridge.unmute(ROOM, 11)
    assert [(p.id, p.muted, p.talking) for p in await bridge.list_participants(ROOM)] == [(11, False, False)]
    await bridge.kick(ROOM, 11)
    assert await bridge.list_participants(ROOM) == []

    assert [b.get("secret") for b in janus.bodies() if b["request"] in ("mute", "unmute", "kick")] == ["r00m"] * 3
    with pytest.raises(JanusError, match="492"):
        await bridge.mute(ROOM, 11)


async def test_a_wrong_room_secret_is_refused(session: JanusSession, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)
    await bridge.join(ROOM, OFFER, participant_id=11)

    other = AudioBridge(await session.attach(AUDIOBRIDGE), room_secret="nope")
    with pytest.raises(JanusError) as caught:
        await other.mute(ROOM, 11)
    assert caught.value.code == AUDIOBRIDGE_UNAUTHORIZED


async def test_configure_and_leave_are_answered_by_events(janus: FakeJanus, bridge: AudioBridge) -> None:
    def respond(message: FakeMessage) -> Later:
        if message.body["request"] == "configure":
            return Later({"audiobridge": "event", "room": ROOM, "result": "ok"})
        return Later({"audiobridge": "left", "room": ROOM, "id": 11})

    janus.responder = respond

    assert await bridge.configure(muted=False) is None
    await bridge.leave()

    assert janus.bodies() == [{"request": "configure", "muted": False}, {"request": "leave"}]


async def test_rtp_forward_lists_and_stops(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)

    stream_id = await bridge.rtp_forward(ROOM, host="127.0.0.1", port=20000)

    assert janus.bodies("rtp_forward") == [
        {
            "request": "rtp_forward",
            "room": ROOM,
            "host": "127.0.0.1",
            "port": 20000,
            "codec": "opus",
            "ptype": 111,
            "always_on": True,
            "admin_key": "adm1n",
            "secret": "r00m",
        }
    ]
    [forwarder] = await bridge.list_forwarders(ROOM)
    assert (forwarder.stream_id, forwarder.host, forwarder.port) == (stream_id, "127.0.0.1", 20000)
    assert (forwarder.ptype, forwarder.codec, forwarder.always_on) == (111, "opus", True)
    await bridge.stop_rtp_forward(ROOM, stream_id)
    assert await bridge.list_forwarders(ROOM) == []


async def test_rtp_forward_to_a_broadcast_node_asks_janus_for_srtp(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)
    key = ForwardKey("AES_CM_128_HMAC_SHA1_32", bytes(range(KEY_BYTES)))

    await bridge.rtp_forward(ROOM, host="10.0.0.7", port=5004, ssrc=77, srtp=key)

    [body] = janus.bodies("rtp_forward")
    assert (body["ssrc"], body["srtp_suite"], body["srtp_crypto"]) == (77, 32, key.key_base64)


async def test_rtp_forward_without_the_admin_key_is_refused(session: JanusSession, bridge: AudioBridge) -> None:
    await bridge.create(ROOM)

    keyless = AudioBridge(await session.attach(AUDIOBRIDGE), room_secret="r00m")
    with pytest.raises(JanusError) as caught:
        await keyless.rtp_forward(ROOM, host="127.0.0.1", port=1)
    assert caught.value.code == AUDIOBRIDGE_UNAUTHORIZED


async def test_streaming_create_sends_one_opus_stream_bound_to_loopback(janus: FakeJanus, streaming: Streaming) -> None:
    port = await streaming.create(MOUNT, port=0, description="room mix")

    assert port == 20000
    assert janus.bodies("create") == [
        {
            "request": "create",
            "type": "rtp",
            "id": MOUNT,
            "permanent": False,
            "is_private": True,
            "media": [
                {
                    "type": "audio",
                    "mid": "a",
                    "port": 0,
                    "iface": "127.0.0.1",
                    "pt": 111,
                    "codec": "opus",
                    "rtpmap": "opus/48000/2",
                }
            ],
            "admin_key": "adm1n",
            "description": "room mix",
        }
    ]
    info = await streaming.info(MOUNT)
    assert (info.id, info.viewers, info.enabled) == (MOUNT, 0, True)
    assert await streaming.list() == []  # private


async def test_streaming_list_destroy_and_refusals(session: JanusSession, streaming: Streaming) -> None:
    await streaming.create(MOUNT, port=20002, is_private=False)
    assert await streaming.list() == [MOUNT]

    await streaming.destroy(MOUNT)

    assert await streaming.list() == []
    with pytest.raises(JanusError) as caught:
        await streaming.info(MOUNT)
    assert caught.value.code == STREAMING_NO_SUCH_MOUNTPOINT
    with pytest.raises(JanusError) as caught:
        await Streaming(await session.attach(STREAMING)).create(MOUNT, port=20004)
    assert caught.value.code == STREAMING_UNAUTHORIZED


async def test_a_listener_watches_gets_the_offer_starts_with_an_answer_and_stops(
    janus: FakeJanus, streaming: Streaming
) -> None:
    await streaming.create(MOUNT, port=20002)

    offer = await streaming.watch(MOUNT)
    await streaming.start(ANSWER)
    await streaming.stop()

    assert offer == OFFER
    assert janus.bodies()[-3:] == [{"request": "watch", "id": MOUNT}, {"request": "start"}, {"request": "stop"}]
    assert janus.sent("message")[-2]["jsep"] == ANSWER
    with pytest.raises(JanusError) as caught:
        await streaming.watch(MOUNT + 1)
    assert caught.value.code == STREAMING_NO_SUCH_MOUNTPOINT


async def test_an_answer_of_the_wrong_kind_is_a_protocol_failure(janus: FakeJanus, bridge: AudioBridge) -> None:
    janus.responder = lambda m: {"audiobridge": "success"}

    with pytest.raises(JanusUnavailable, match="expected created"):
        await bridge.create(ROOM)


# --- what interpretation channels use (adapters/janus/media_channels.py) -------------------------------------------


async def test_a_channel_room_allows_plain_rtp_and_tags_groups(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM, audiolevel_event=False, allow_rtp_participants=True, groups=("floor", "booth"))
    await bridge.join(ROOM, OFFER, display="ada", group="booth")
    await bridge.rtp_forward(ROOM, host="127.0.0.1", port=20000, group="booth")

    [create] = janus.bodies("create")
    assert (create["allow_rtp_participants"], create["groups"]) == (True, ["floor", "booth"])
    assert janus.bodies("join")[0]["group"] == "booth"
    assert janus.bodies("rtp_forward")[0]["group"] == "booth"
    await bridge.create(ROOM + 1)  # an ordinary room names neither
    assert {"allow_rtp_participants", "groups"}.isdisjoint(janus.bodies("create")[1])


async def test_a_plain_rtp_participant_joins_at_a_volume_and_gets_the_port_janus_reads(
    janus: FakeJanus, bridge: AudioBridge
) -> None:
    ports = iter([40002, None])

    def respond(message: FakeMessage) -> Later:
        port = next(ports)
        rtp = {"ip": "127.0.0.1", "port": port, "payload_type": 111} if port else None
        return Later({"audiobridge": "joined", "room": ROOM, "id": 7, "participants": [], "rtp": rtp})

    janus.responder = respond

    assert await bridge.join_plain_rtp(ROOM, display="floor", prebuffer=2, group="floor", volume=18) == (
        "127.0.0.1",
        40002,
    )
    assert janus.bodies("join") == [
        {
            "request": "join", "room": ROOM, "muted": False, "display": "floor", "prebuffer": 2, "group": "floor",
            "volume": 18, "rtp": {"payload_type": 111},
        }
    ]  # fmt: skip
    assert "jsep" not in janus.sent("message")[-1]  # no ip/port and no SDP: Janus sends this participant nothing
    with pytest.raises(JanusUnavailable):
        await bridge.join_plain_rtp(ROOM)


async def test_configure_sets_a_participants_volume(janus: FakeJanus, bridge: AudioBridge) -> None:
    janus.responder = lambda message: Later({"audiobridge": "event", "room": ROOM, "result": "ok"})

    await bridge.configure(volume=100)

    assert janus.bodies() == [{"request": "configure", "volume": 100}]


async def test_a_viewer_switches_mountpoint_on_its_connection(janus: FakeJanus, streaming: Streaming) -> None:
    answers = iter([{"switched": "ok", "id": MOUNT}, {"switched": "no"}])
    janus.responder = lambda message: Later({"streaming": "event", "result": next(answers)})

    await streaming.switch(MOUNT)

    assert janus.bodies() == [{"request": "switch", "id": MOUNT}]
    with pytest.raises(JanusUnavailable):
        await streaming.switch(MOUNT)


async def test_configure_moves_a_participant_to_another_group(janus: FakeJanus, bridge: AudioBridge) -> None:
    janus.responder = lambda message: Later({"audiobridge": "event", "room": ROOM, "result": "ok"})

    await bridge.configure(group="t1")

    assert janus.bodies() == [{"request": "configure", "group": "t1"}]


async def test_a_group_forward_says_whether_the_room_took_the_group(janus: FakeJanus, bridge: AudioBridge) -> None:
    await bridge.create(ROOM, groups=("t0", "others"))
    await bridge.create(ROOM + 1)  # no groups: Janus ignores the group and forwards the whole mix

    stream_id, grouped = await bridge.rtp_forward_group(ROOM, "t0", host="127.0.0.1", port=20010)
    _, ignored = await bridge.rtp_forward_group(ROOM + 1, "t0", host="127.0.0.1", port=20012)

    assert (grouped, ignored) == (True, False)
    assert janus.bodies("rtp_forward")[0]["group"] == "t0"
    [forwarder] = await bridge.list_forwarders(ROOM)
    assert (forwarder.stream_id, forwarder.group) == (stream_id, "t0")
    [whole] = await bridge.list_forwarders(ROOM + 1)
    assert whole.group is None


async def test_a_multistream_mountpoint_has_one_opus_stream_per_mid_on_ports_janus_picks(
    janus: FakeJanus, streaming: Streaming
) -> None:
    ports = await streaming.create_multistream(MOUNT, ("t0", "t1", "others"))

    [body] = janus.bodies("create")
    assert [(m["mid"], m["port"], m["codec"], m["pt"], m["iface"]) for m in body["media"]] == [
        (mid, 0, "opus", 111, "127.0.0.1") for mid in ("t0", "t1", "others")
    ]
    assert list(ports) == ["t0", "t1", "others"]
    assert len(set(ports.values())) == 3

    def short_answer(message: FakeMessage) -> dict[str, object]:
        stream = {"id": MOUNT + 1, "ports": [{"type": "audio", "mid": "t0", "port": 20000}]}
        return {"streaming": "created", "create": str(MOUNT + 1), "stream": stream}

    janus.responder = short_answer
    with pytest.raises(JanusUnavailable):  # a port missing for a mid: not what was asked
        await streaming.create_multistream(MOUNT + 1, ("t0", "t1"))
