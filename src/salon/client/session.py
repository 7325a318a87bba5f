"""Client layer: one member's connection to a Salon server — its WebSocket, room ops, and audio through the app.

For bots, recording, load tests and Salon's own integration tests. It speaks only Salon's public protocol: a bearer
token, the WebSocket at ``/api/v1/ws`` (ops answered by ``reply`` or ``error`` frames), and WebRTC audio whose
signalling goes through the app (``media_listen`` / ``media_answer`` / ``media_speak``) — never to the media server
directly. aiortc gathers its ICE candidates before it hands out a description, so no candidate is trickled.

    async with SalonClient("http://127.0.0.1:8000", token) as me:
        await me.call("join", room_id=room)
        heard = await me.listen(room)               # the room's mix, as a remote audio track
        await me.speak(room, ToneTrack(440.0))      # once on stage
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from types import TracebackType
from typing import Any, Literal, cast

import httpx
import orjson
from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from salon.client.broadcast import BroadcastTrack
from salon.client.turn_choice import usable_turn

log = logging.getLogger(__name__)

Media = Literal["listen", "speak"]
CALL_TIMEOUT_S = 15.0
TRACK_TIMEOUT_S = 15.0


class SalonError(Exception):
    """The server refused an op: its stable ``code``, ``message`` and ``data``."""

    def __init__(self, code: str, message: str, data: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.data = code, message, data


def _peer(servers: list[RTCIceServer], *, relay_only: bool = False) -> RTCPeerConnection:
    # Only the servers Salon names (GET /media/ice-servers): with none, aiortc would ask a public STUN server.
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))


def _ice_server(server: dict[str, Any]) -> RTCIceServer:
    return RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))


class SalonClient:
    """A logged-in member (``token``) on the server at ``base_url``; one WebSocket, one connection per media kind
    and room. Frames other than replies (events, signals, removals) are kept in ``frames`` for the caller."""

    def __init__(self, base_url: str, token: str, *, relay_only: bool = False) -> None:
        # relay_only: media only through Salon's TURN servers (a client whose direct paths are blocked; tests).
        self.relay_only = relay_only
        self.ws_url = base_url.rstrip("/").replace("http", "ws", 1) + "/api/v1/ws"
        self.api_url = base_url.rstrip("/") + "/api/v1"
        self._ice: tuple[list[RTCIceServer], float] = ([], 0.0)  # the servers, and until when they are good
        self.token = token
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.user_id: str | None = None
        self._ws: ClientConnection | None = None
        self._refs = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._peers: dict[tuple[str, Media], RTCPeerConnection] = {}
        self._booths: dict[tuple[str, str], RTCPeerConnection] = {}  # (room, language): an interpreter's connection

    async def __aenter__(self) -> SalonClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- the WebSocket -------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        self._ws = await connect(self.ws_url, additional_headers=headers, proxy=None, compression=None)
        hello = orjson.loads(await asyncio.wait_for(self._ws.recv(), CALL_TIMEOUT_S))
        if hello.get("type") != "hello":
            raise SalonError("unexpected", "the server did not say hello", hello)
        self.user_id = hello["user_id"]
        self._reader = asyncio.create_task(self._read(), name="salon-client-reader")

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                frame: dict[str, Any] = orjson.loads(raw)
                waiter = self._waiting.pop(frame["ref"], None) if frame["type"] in ("reply", "error") else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                else:
                    self.frames.put_nowait(frame)
        except ConnectionClosed:
            pass  # the server closed it: ``close_code`` says why (1012: it restarts, connect again)
        finally:
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the WebSocket closed"))

    @property
    def close_code(self) -> int | None:
        """How the WebSocket ended, once it did: 1012 when the server restarts (connect again), 4001 when the
        session ended, 4401 when the token is refused (web/errors.py)."""
        return None if self._ws is None else self._ws.close_code

    async def call(self, op: str, **data: Any) -> dict[str, Any]:
        """Send one op and return its reply's data; ``SalonError`` with the server's code when refused."""
        if self._ws is None:
            raise ConnectionError("not connected")
        ref = next(self._refs)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = waiter
        await self._ws.send(orjson.dumps({"op": op, "ref": ref, "data": data}).decode())
        try:
            frame = await asyncio.wait_for(waiter, CALL_TIMEOUT_S)
        finally:
            self._waiting.pop(ref, None)
        if frame["type"] == "error":
            error = frame["error"]
            raise SalonError(error["code"], error["message"], error.get("data", {}))
        return cast(dict[str, Any], frame["data"])

    async def next_frame(self, kind: str, *, name: str | None = None) -> dict[str, Any]:
        """The next kept frame of this ``type`` (and ``name``), skipping others; wrap in ``asyncio.timeout``."""
        while True:
            frame = await self.frames.get()
            if frame["type"] == kind and (name is None or frame.get("name") == name):
                return frame

    # --- audio ---------------------------------------------------------------------------------------------------

    async def ice_servers(self) -> list[RTCIceServer]:
        """The STUN/TURN servers Salon gives this member, fetched again a minute before the TURN credentials end."""
        servers, valid_until = self._ice
        if time.time() < valid_until:
            return servers
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(trust_env=False, timeout=CALL_TIMEOUT_S) as http:
            response = await http.get(f"{self.api_url}/media/ice-servers", headers=headers)
        body = response.json()
        if response.status_code != 200:
            raise SalonError(body.get("code", "unexpected"), body.get("message", ""), body.get("data", {}))
        # aiortc uses one TURN URL only: the first of Salon's that works from here (turn_choice.py).
        servers = await usable_turn([_ice_server(s) for s in body["ice_servers"]])
        expires_at = body["expires_at"]
        self._ice = (servers, expires_at - 60 if expires_at else time.time() + 600)
        return servers

    async def listen(self, room_id: str, language: str | None = None) -> MediaStreamTrack:
        """Hear the room's mix (anyone in the room), or one of its interpretation channels (``language``; someone on
        stage gets the interpreter only): the remote audio track, once the media server sends it."""
        await self.close_media(room_id, "listen")
        pc = _peer(await self.ice_servers(), relay_only=self.relay_only)
        self._peers[(room_id, "listen")] = pc
        arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and not arrived.done():
                arrived.set_result(track)

        if language is None:
            offer = (await self.call("media_listen", room_id=room_id))["jsep"]
        else:
            offer = (await self.call("media_channel_listen", room_id=room_id, language=language))["jsep"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        await self.call("media_answer", room_id=room_id, jsep={"type": answer.type, "sdp": answer.sdp})
        return await asyncio.wait_for(arrived, TRACK_TIMEOUT_S)

    async def listen_broadcast(self, room_id: str) -> BroadcastTrack:
        """Hear the room on the broadcast tier (a fresh single-use ticket from ``media_stream``): the caller closes
        the track (``await track.close()``); ``BroadcastRefused`` when the broadcast server says no."""
        grant = await self.call("media_stream", room_id=room_id)
        return await BroadcastTrack.open(grant["url"])

    async def speak(self, room_id: str, source: MediaStreamTrack) -> MediaStreamTrack:
        """Publish ``source`` into the stage (moderators and speakers only); returns what one hears there: the
        other speakers, minus oneself."""
        await self.close_media(room_id, "speak")
        pc = _peer(await self.ice_servers(), relay_only=self.relay_only)
        self._peers[(room_id, "speak")] = pc
        arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and not arrived.done():
                arrived.set_result(track)

        pc.addTransceiver(source, direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription
        try:
            answer = (await self.call("media_speak", room_id=room_id, jsep={"type": offer.type, "sdp": offer.sdp}))[
                "jsep"
            ]
        except BaseException:
            await self.close_media(room_id, "speak", tell_server=False)
            raise
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        return await asyncio.wait_for(arrived, TRACK_TIMEOUT_S)

    async def interpret(self, room_id: str, language: str, source: MediaStreamTrack) -> None:
        """Publish ``source`` into a channel of the room (its assigned interpreters only; heard while one holds the
        booth's floor). Send-only: an interpreter hears the floor on their listen connection."""
        await self.close_interpret(room_id, language)
        pc = _peer(await self.ice_servers(), relay_only=self.relay_only)
        self._booths[(room_id, language)] = pc
        pc.addTransceiver(source, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription
        jsep = {"type": offer.type, "sdp": offer.sdp}
        try:
            answer = (await self.call("media_interpret", room_id=room_id, language=language, jsep=jsep))["jsep"]
        except BaseException:
            await self.close_interpret(room_id, language, tell_server=False)
            raise
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))

    async def close_interpret(self, room_id: str, language: str, *, tell_server: bool = True) -> None:
        pc = self._booths.pop((room_id, language), None)
        if pc is None:
            return
        await pc.close()
        if tell_server and self._ws is not None:
            with contextlib.suppress(SalonError, ConnectionError, TimeoutError):
                await self.call("media_interpret_close", room_id=room_id, language=language)

    def peer(self, room_id: str, media: Media) -> RTCPeerConnection | None:
        return self._peers.get((room_id, media))

    async def close_media(self, room_id: str, media: Media, *, tell_server: bool = True) -> None:
        """End one connection, here and on the server (closing is always allowed)."""
        pc = self._peers.pop((room_id, media), None)
        if pc is None:
            return
        await pc.close()
        if tell_server and self._ws is not None:
            with contextlib.suppress(SalonError, ConnectionError, TimeoutError):
                await self.call("media_close", room_id=room_id, media=media)

    async def close(self) -> None:
        for room_id, media in list(self._peers):
            await self.close_media(room_id, media, tell_server=False)
        for room_id, language in list(self._booths):
            await self.close_interpret(room_id, language, tell_server=False)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._reader
