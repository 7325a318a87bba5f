"""``adapters/janus/media_channels.py`` against an in-memory Janus: what only a misconfigured Janus would do, which the
real one in tests/integration/test_janus_channels.py never does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from salon.adapters.janus import media_channels
from salon.adapters.janus.media_rooms import RoomMedia
from salon.adapters.janus.plugins import AUDIOBRIDGE, STREAMING
from salon.adapters.janus.transport import JanusSession, JanusTransport, JanusUnavailable
from tests.support.fake_janus import ADMIN_KEY, Answer, FakeJanus, FakeMessage, Later


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


async def test_a_channel_is_refused_when_janus_would_read_the_floor_off_loopback(
    janus: FakeJanus, session: JanusSession
) -> None:
    model = janus.model.respond

    def public_local_ip(message: FakeMessage) -> Answer:
        if message.body.get("request") == "join" and "rtp" in message.body:  # the floor feed's plain-RTP join
            return Later({"audiobridge": "joined", "room": message.body["room"], "id": 9, "participants": [],
                          "rtp": {"ip": "203.0.113.7", "port": 40002, "payload_type": 111}})  # fmt: skip
        return model(message)

    janus.responder = public_local_ip
    bridge, streaming = await session.attach(AUDIOBRIDGE), await session.attach(STREAMING)
    floor = RoomMedia("floor-room", 77, "s3cret", "m0unt", 40000, 1)

    with pytest.raises(JanusUnavailable, match="local_ip"):
        await media_channels.set_up(session, bridge, streaming, ADMIN_KEY, floor, "ru", ducking_db=-15, prebuffer=2)

    assert [b for b in janus.bodies("rtp_forward") if b["room"] == 77] == []  # the floor was never forwarded there
    assert len(janus.sent("detach")) == 1  # the feed's own handle is let go
