"""A speaker and a listener on a network that drops all UDP are heard, through TURN over TCP, then over TLS.

``salon serve`` runs in a "server" namespace with its managed Janus and managed coturn (TCP and UDP on 3478, TLS on
5349 with a certificate from the test's CA): it tells clients, as it tells everyone, ``turn:…?transport=udp``,
``turn:…?transport=tcp`` and ``turns:…``. Two aiortc clients (``salon.client``, gathering every kind of candidate,
not relay-only) sit in a "client" namespace whose firewall drops every UDP packet in and out
(tests/support/udp_blocked.py). They get their ICE servers from GET /api/v1/media/ice-servers and must find the way
through on their own: the speaker's 440 Hz reaches the listener, each one's ICE pair is a TURN relay over TCP (with
TCP to 3478 dropped too: over TLS, the certificate checked against the test CA only), the client's firewall dropped
UDP and not one UDP packet from the client reached the server's namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from aiortc import RTCPeerConnection

from salon.client.audio import ToneMeter, ToneTrack
from salon.client.session import SalonClient
from tests.support.browser import Member, SalonApi, SalonServer, running_salon
from tests.support.udp_blocked import APP_PORT, SERVER_IP, TURN_PORT, UdpBlocked, salon_settings, udp_blocked

A_HZ: Final = 440.0
HEARD_DBFS: Final = -30.0
BASE: Final = f"http://{SERVER_IP}:{APP_PORT}"
STEP_TIMEOUT_S: Final = 20.0
SCENARIO_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True)
class Stage:
    net: UdpBlocked
    server: SalonServer
    speaker: Member
    listener: Member
    room: str
    ca: Path


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    workdir = tmp_path_factory.mktemp("udp-blocked")
    with udp_blocked() as net, running_salon(net.server, workdir, salon_settings(workdir)) as server:

        async def seed() -> tuple[Member, Member, str]:
            async with SalonApi(server) as api:
                admin = await api.sign_up_admin()
                ann, cat = await api.add_member(admin, "ann"), await api.add_member(admin, "cat")
                return ann, cat, await api.create_room(ann, "No UDP here")

        ann, cat, room = net.server.run(seed, timeout=30)
        yield Stage(net, server, ann, cat, room, workdir / "ca.pem")


def relay_path(pc: RTCPeerConnection | None) -> tuple[str, str]:
    """The nominated ICE pair's local candidate type, and how it reaches its TURN server: udp, tcp or tls."""
    assert pc is not None
    connection: Any = pc.getTransceivers()[0].receiver.transport.transport._connection  # aioice's
    pair = connection._nominated[1]
    kind = pair.local_candidate.type
    if kind != "relay":
        return kind, "udp"
    inner = pair.protocol.transport._TurnTransport__inner_protocol.transport  # the socket to coturn
    if inner.get_extra_info("sslcontext") is not None:
        return kind, "tls"
    return kind, "tcp" if inner.get_extra_info("socket").type.name == "SOCK_STREAM" else "udp"


async def scenario(stage: Stage) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(SalonClient(BASE, stage.speaker.token))
        c = await stack.enter_async_context(SalonClient(BASE, stage.listener.token))
        await stack.enter_async_context(ToneMeter(await a.speak(stage.room, ToneTrack(A_HZ))))
        await a.call("self_mute", room_id=stage.room, muted=False)
        await c.call("join", room_id=stage.room)
        ears = await stack.enter_async_context(ToneMeter(await c.listen(stage.room)))
        async with asyncio.timeout(STEP_TIMEOUT_S):
            await ears.wait_until(lambda e: max(e.frame_tone_levels(A_HZ, 0.3) or [-200.0]) >= HEARD_DBFS)
        return {
            "heard": max(ears.frame_tone_levels(A_HZ, 0.3)),
            "speaker": relay_path(a.peer(stage.room, "speak")),
            "listener": relay_path(c.peer(stage.room, "listen")),
            "ice_urls": [s.urls for s in await c.ice_servers()],
        }


@pytest.mark.parametrize(
    ("blocked_tcp", "path"),
    [((), "tcp"), ((TURN_PORT,), "tls")],
    ids=["udp-blocked-turn-tcp", "udp-and-3478-blocked-turns"],
)
def test_with_udp_blocked_a_speaker_and_a_listener_are_heard_through_turn(
    stage: Stage, blocked_tcp: tuple[int, ...], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiortc checks coturn's certificate against the default CA store, which SSL_CERT_FILE replaces: only the
    # test's CA. A client that skipped the check would pass as well, so test_sound_through_turn keeps that proof.
    monkeypatch.setenv("SSL_CERT_FILE", str(stage.ca))
    stage.net.block(tcp_ports=blocked_tcp)
    seen = stage.net.client.run(lambda: scenario(stage), timeout=SCENARIO_TIMEOUT_S)
    print(f"\n{path}: {seen}; UDP dropped {stage.net.udp_dropped()}, TCP dropped {stage.net.tcp_dropped()}")
    assert seen["heard"] >= HEARD_DBFS
    assert seen["speaker"] == ("relay", path), seen
    assert seen["listener"] == ("relay", path), seen
    assert stage.net.udp_dropped() > 0, "the clients tried UDP (host candidates, TURN over UDP) and it was dropped"
    assert stage.net.udp_arrived() == 0, "no UDP from the client reached the server"
    if blocked_tcp:
        assert stage.net.tcp_dropped() > 0, "the clients tried TURN over TCP to 3478 too"
