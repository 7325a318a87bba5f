"""Real sound through the managed coturn: a speaker and a listener whose media may only go through TURN (relay
candidates only, reaching coturn over TCP, then over TLS with ``turns:``): the speaker's tone reaches the listener
through coturn, Janus and coturn again, in a private network namespace. The TLS case trusts only the test CA, so it
fails if the client does not verify coturn's certificate (checked by hand with the system CA store instead).

Janus announces 198.18.0.1, a range the managed coturn denies (benchmarking addresses): the relay works only because
``SALON_JANUS_INTERFACE`` is re-allowed as the media server, which this test proves on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from salon.adapters.janus.process import free_loopback_port
from salon.adapters.janus.runtime import open_janus_media
from salon.adapters.turn.runtime import open_turn
from salon.app import sessions
from salon.app.media_events import run_media_events
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.settings import Settings
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from salon.domain.rooms import RoomType
from salon.web.app import build_services
from tests.support.https_proxy import local_ca
from tests.support.live_server import serve
from tests.support.netns import ADDRESS, INTERFACE, NetNamespace
from tests.support.people import add_member

A_HZ = 440.0
HEARD_DBFS = -30.0
STEP_TIMEOUT = 15.0
WHOLE_TIMEOUT = 90.0


async def token(services: Services, user_id: str) -> str:
    async with services.db.transaction() as conn:
        return (await sessions.create_session(services, conn, user_id, "bearer")).token


async def scenario(tmp_path: Path, scheme: str) -> float:
    turn_port, tls_port = free_loopback_port(), free_loopback_port()
    ca = local_ca(tmp_path, ADDRESS)
    url = f"turn:{ADDRESS}:{turn_port}" if scheme == "turn" else f"turns:{ADDRESS}:{tls_port}"
    settings = Settings(
        data_dir=tmp_path / "data", dev=True, secret_key="s" * 48, janus_interface=ADDRESS,
        janus_ice_enforce_list=INTERFACE, turn="managed", turn_listen_ip=ADDRESS, turn_port=turn_port,
        turn_tls_port=tls_port, turn_tls_cert=ca.cert, turn_tls_key=ca.key, turn_urls=[f"{url}?transport=tcp"],
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        media = await stack.enter_async_context(open_janus_media(settings))
        await stack.enter_async_context(open_turn(settings))
        services = await build_services(settings, media)
        stack.push_async_callback(services.db.dispose)
        events = asyncio.create_task(run_media_events(services))
        stack.callback(events.cancel)
        mod, cat = [await add_member(services, n) for n in ("moda", "cat")]
        room = (await create_room(services, mod, NewRoom("Relay", "", [], RoomType.OPEN)))["room"]["id"]
        port = await stack.enter_async_context(serve(services))
        base = f"http://127.0.0.1:{port}"
        a = await stack.enter_async_context(SalonClient(base, await token(services, mod), relay_only=True))
        c = await stack.enter_async_context(SalonClient(base, await token(services, cat), relay_only=True))
        await stack.enter_async_context(ToneMeter(await a.speak(room, ToneTrack(A_HZ))))
        await a.call("self_mute", room_id=room, muted=False)
        await c.call("join", room_id=room)
        ears = await stack.enter_async_context(ToneMeter(await c.listen(room)))
        async with asyncio.timeout(STEP_TIMEOUT):
            await ears.wait_until(lambda e: max(e.frame_tone_levels(A_HZ, 0.3) or [-200.0]) >= HEARD_DBFS)
        for who, pc in (("speaker", a.peer(room, "speak")), ("listener", c.peer(room, "listen"))):
            assert pc is not None, who
            local = pc.getTransceivers()[0].receiver.transport.transport.iceGatherer.getLocalCandidates()
            assert local, f"the {who} gathered candidates"
            assert {cand.type for cand in local} == {"relay"}, f"the {who}'s only candidates are TURN relays"
        return max(ears.frame_tone_levels(A_HZ, 0.3))


@pytest.mark.parametrize("scheme", ["turn", "turns"])
def test_a_speaker_and_a_listener_limited_to_turn_are_heard(
    netns: NetNamespace, tmp_path: Path, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiortc checks a turns: server against the default CA store, which SSL_CERT_FILE replaces: only the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    heard = netns.run(lambda: scenario(tmp_path, scheme), timeout=WHOLE_TIMEOUT)
    assert heard >= HEARD_DBFS
