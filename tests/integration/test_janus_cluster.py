"""Several Janus nodes as one media port: rooms spread over the nodes by id, each call reaches the room's node,
and a lost node's reset reaches the app through the merged event stream. Two real managed Janus processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from salon.adapters.janus.cluster import JanusCluster
from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.plugins import AUDIOBRIDGE, AudioBridge, janus_id
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.transport import JanusTransport
from salon.app.ports import ALL_ROOMS, MediaEvent
from tests.support.janus import managed_janus

ROOMS = [f"room-{n}" for n in range(12)]


async def rooms_on(janus: ManagedJanus, room_ids: list[str]) -> set[str]:
    """The rooms of ``room_ids`` this node holds, asked of Janus itself."""
    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        session = await transport.create_session()
        try:
            bridge = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=janus.admin_key)
            return {r for r in room_ids if await bridge.exists(janus_id(r))}
        finally:
            await session.destroy()


async def test_rooms_spread_over_nodes_and_each_call_reaches_its_node(tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(managed_janus(tmp_path / f"janus{i}")) for i in range(2)]
        cluster = await stack.enter_async_context(
            JanusCluster([JanusMedia(j.url, j.api_secret, j.admin_key) for j in nodes])
        )
        for room in ROOMS:
            await cluster.create_room(room)
        held = [await rooms_on(janus, ROOMS) for janus in nodes]
        assert held[0] | held[1] == set(ROOMS), "every room has its media somewhere"
        assert not held[0] & held[1], "on one node only"
        assert all(held), "both nodes carry rooms"
        for i, janus_media in enumerate(cluster.nodes):
            assert {r for r in ROOMS if cluster.node_for(r) is janus_media} == held[i]

        room = ROOMS[0]
        await cluster.admit(room, "ann", "listener", False)
        offer = await cluster.open_listen(room, "ann")
        assert "m=audio" in offer["sdp"]
        await cluster.destroy_room(room)
        assert room not in (await rooms_on(nodes[0], ROOMS) | await rooms_on(nodes[1], ROOMS))

        events = cluster.events()
        victim = nodes[1].pid
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        async with asyncio.timeout(10):
            while (event := await anext(events)).kind != "media_reset":
                pass
        assert event == MediaEvent(ALL_ROOMS, "media_reset")
        await cluster.reconnect()
        for r in ROOMS[1:]:
            await cluster.create_room(r)
        assert await rooms_on(nodes[1], ROOMS) == held[1] - {room}, "the restarted node's rooms are back"
