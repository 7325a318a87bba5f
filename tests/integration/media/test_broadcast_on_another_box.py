"""A broadcast worker Salon does not run — standing in for one on another box: its own process, started here on
127.0.0.1 ports of the test's network namespace with the secret ``salon broadcast-secret`` prints — given in
``broadcast_nodes`` with no managed worker beside it.

Salon registers the room on it with an SRTP key, the managed Janus forwards the stage's mix to it encrypted, and a
listener's stream carries the speaker's tone. Plain RTP with the room's SSRC is refused and counted: from a local
process that guessed the SSRC, and from a Janus forward without SRTP in place of Salon's (the listener's audio stops).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from salon.adapters.broadcast.fleet import stream_ssrc
from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.plugins import AudioBridge
from salon.adapters.janus.runtime import broadcast_secret, open_janus_media
from salon.app.media_events import run_media_events
from salon.app.rooms import NewRoom, create_room
from salon.app.settings import Settings
from salon.client.audio import ToneMeter, ToneTrack
from salon.client.broadcast import BroadcastTrack
from salon.client.session import SalonClient
from salon.domain.rooms import RoomType
from salon.domain.stream_tickets import control_token
from salon.web.app import build_services
from tests.integration.media.test_sound_through_salon import A_HZ, WHOLE_TIMEOUT, hears, token, until
from tests.support.broadcast_node import NodeProcess, RtpSender, running_node
from tests.support.live_server import serve
from tests.support.netns import ADDRESS, INTERFACE, NetNamespace
from tests.support.people import add_member

SECRET_KEY = "s" * 48
PACKETS_PER_S = 50  # Janus forwards a 20 ms packet at a time, silence included (always_on)


async def room_stats(node: NodeProcess, secret: str, room: str) -> dict[str, Any]:
    async with node.control_client(token=control_token(secret)) as control:
        answer = await control.get("/v1/stats")
    assert answer.status_code == 200
    stats: dict[str, Any] = answer.json()
    return {"srtp_failed_node": stats["srtp_failed"], **stats["rooms"][room]}


async def scenario(tmp_path: Path) -> None:
    secret = broadcast_secret(Settings(data_dir=tmp_path / "data", dev=True, secret_key=SECRET_KEY))
    with running_node(tmp_path, name="far", secret=secret) as node:
        async with contextlib.AsyncExitStack() as stack:
            far = {
                "name": "far",
                "public_url": f"http://127.0.0.1:{node.listen}",
                "control_url": f"http://127.0.0.1:{node.control}",
                "rtp": f"127.0.0.1:{node.rtp}",
            }
            settings = Settings(
                data_dir=tmp_path / "data", dev=True, secret_key=SECRET_KEY,
                janus_interface=ADDRESS, janus_ice_enforce_list=INTERFACE,
                broadcast_workers=0, broadcast_nodes=[far],
            )  # fmt: skip
            media = await stack.enter_async_context(open_janus_media(settings))
            assert isinstance(media, JanusMedia)
            services = await build_services(settings, media)
            stack.push_async_callback(services.db.dispose)
            events = asyncio.create_task(run_media_events(services))
            stack.callback(events.cancel)
            mod, cat = [await add_member(services, n) for n in ("moda", "cat")]
            room = (await create_room(services, mod, NewRoom("Far", "", [], RoomType.OPEN)))["room"]["id"]
            port = await stack.enter_async_context(serve(services))
            base = f"http://127.0.0.1:{port}"
            a, c = [await stack.enter_async_context(SalonClient(base, await token(services, u))) for u in (mod, cat)]
            await a.speak(room, ToneTrack(A_HZ))
            await a.call("self_mute", room_id=room, muted=False)

            # C listens through the worker Salon does not run, fed by an SRTP forward.
            await c.call("join", room_id=room)
            grant = await c.call("media_stream", room_id=room)
            assert grant["url"].startswith(f"http://127.0.0.1:{node.listen}/v1/stream/")
            track = await BroadcastTrack.open(grant["url"])
            stack.push_async_callback(track.close)
            ears = await stack.enter_async_context(ToneMeter(track))
            await until(ears, hears(A_HZ), "C hears A through the worker on another box")
            heard = await room_stats(node, secret, room)
            assert heard["srtp"] is True
            assert heard["packets_in"] > 0
            assert heard["srtp_failed"] == 0

            # A local process that guessed the room's SSRC: its plain RTP is refused and counted.
            guesser = RtpSender(node, stream_ssrc(room))
            stack.callback(guesser.sock.close)
            await guesser.send_paced(range(10), every=0.005)
            await asyncio.sleep(0.2)
            after = await room_stats(node, secret, room)
            assert after["srtp_failed"] == 10
            assert after["srtp_failed_node"] == 10

            # A Janus forward without SRTP in place of Salon's: nothing of it feeds the room.
            link, forwarded = media._links.require(), media._rooms[room]
            stage = AudioBridge(link.bridge, admin_key=media._admin_key, room_secret=forwarded.secret)
            await stage.stop_rtp_forward(forwarded.janus_id, forwarded.broadcast["far"].stream_id)
            await stage.rtp_forward(forwarded.janus_id, host="127.0.0.1", port=node.rtp, ssrc=stream_ssrc(room))
            await asyncio.sleep(0.3)  # what the SRTP forward had in flight has arrived
            before = await room_stats(node, secret, room)
            await asyncio.sleep(1.0)
            later = await room_stats(node, secret, room)
            assert later["packets_in"] == before["packets_in"], "plain RTP fed an SRTP room"
            assert later["srtp_failed"] - before["srtp_failed"] >= PACKETS_PER_S * 0.8


def test_a_worker_on_another_box_hears_the_stage_over_srtp_and_refuses_plain_rtp(
    netns: NetNamespace, tmp_path: Path
) -> None:
    netns.run(lambda: scenario(tmp_path), timeout=WHOLE_TIMEOUT)
