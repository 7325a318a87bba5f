"""Web layer: the live event stream, one WebSocket per client at ``/api/v1/ws``.

The handshake checks Origin (an ``Origin`` must be one of ours; a cookie session must send one, bearer clients may
omit it) and authenticates the session, then sends ``hello``. Each client message is size-capped, rate limited per
connection, validated against ``ws_protocol`` and dispatched to its op's handler (the room commands' are made from
``room_ops.ROOM_COMMANDS``, like their REST routes); every refusal is an ``error`` frame and the connection stays
usable. Frames leave through the hub's per-connection queue, so replies and room events reach a client in one
order. Disconnecting does not leave rooms at once: a client that reconnects within the presence grace period
resumes (web/presence.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import orjson
from fastapi import APIRouter, WebSocket
from limits import RateLimitItemPerSecond
from pydantic import BaseModel
from starlette.types import Message

from salon.app import hallway, interpretation, media, streams
from salon.app.ratelimit import Limit
from salon.app.request_ids import REQUEST_ID, current_request_id, new_request_id
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode, refuse
from salon.web import ws_protocol as protocol
from salon.web.auth import Actor, websocket_actor
from salon.web.bus import local_hub
from salon.web.deps import get_services
from salon.web.errors import (
    WS_CLOSE_FORBIDDEN_ORIGIN,
    WS_CLOSE_NOT_AUTHENTICATED,
    WS_CLOSE_RATE_LIMITED,
    WS_CLOSE_SESSION_ENDED,
)
from salon.web.hallway_live import page_data, watchers_of
from salon.web.hub import Connection, Hub
from salon.web.room_ops import ROOM_COMMANDS, RoomCommand
from salon.web.ws_server import FRAMES_EXTENSION

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

FLOOD_FACTOR = 3  # a client sending at more than this many times its rate limit is disconnected
MAX_SUBSCRIPTIONS = 50
_UNREADABLE = object()


class Session:
    """One authenticated connection: who it is, and the rate limits it runs under."""

    def __init__(self, services: Services, hub: Hub, conn: Connection, actor: Actor) -> None:
        self.services = services
        self.hub = hub
        self.conn = conn
        self.actor = actor
        self.key = services.ids.new_id()
        per_second = services.settings.ws_messages_per_second * FLOOD_FACTOR
        self.flood = Limit(
            "ws_flood", RateLimitItemPerSecond(per_second), "Far too many messages; disconnected.", shared=False
        )
        # The connection's request id (web/observe.py set it for the handshake); each op gets "<that>-<n>".
        self.request_id = current_request_id() or new_request_id()
        self.ops = 0

    @property
    def user_id(self) -> str:
        return self.actor.user_id

    def send(self, frame: dict[str, Any]) -> None:
        self.hub.send(self.conn, frame)

    async def handle(self, raw: str | bytes) -> None:
        """Answer one client message with a ``reply`` or an ``error`` frame; never raise for a client mistake.
        Every message counts against the rate limit, whether it parses or not."""
        self.ops += 1
        token = REQUEST_ID.set(f"{self.request_id}-{self.ops}")
        try:
            await self._handle(raw)
        finally:
            REQUEST_ID.reset(token)

    async def _handle(self, raw: str | bytes) -> None:
        decoded: object = _UNREADABLE
        if len(raw) <= protocol.MAX_MESSAGE_CHARS:
            with contextlib.suppress(orjson.JSONDecodeError):
                decoded = orjson.loads(raw)
        ref = protocol.ref_of(decoded)
        try:
            if not await self._within_limits():
                return
            if len(raw) > protocol.MAX_MESSAGE_CHARS:
                raise refuse(ErrorCode.PAYLOAD_TOO_LARGE, "Message too large.", max_chars=protocol.MAX_MESSAGE_CHARS)
            if not isinstance(decoded, dict):
                raise refuse(ErrorCode.INVALID_INPUT, "Messages are JSON objects: {op, ref, data}.")
            message = protocol.parse(decoded)
            if self.conn.closed:
                return
            data = await HANDLERS[type(message)](self, message)
            self.send(protocol.reply(ref, data))
        except DomainError as exc:
            self.send(protocol.error(ref, exc))
        except Exception:
            log.exception("ws %s: op failed", self.conn.id)
            self.send(protocol.internal_error(ref))

    async def _within_limits(self) -> bool:
        limits = self.services.limits
        try:
            await limits.hit(self.flood, self.key)
        except DomainError:
            log.info("ws %s (user %s): flooding, disconnected", self.conn.id, self.user_id)
            self.hub.close(self.conn, WS_CLOSE_RATE_LIMITED, "too many messages")
            return False
        await limits.hit(limits.ws_message, self.key)
        return True


# --- one handler per op ------------------------------------------------------------------------------------------

Op = TypeVar("Op", bound=BaseModel)
P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
Reply = dict[str, Any]
Handler = Callable[[Session, Op], Awaitable[Reply]]
HANDLERS: dict[type[BaseModel], Callable[[Session, Any], Awaitable[Reply]]] = {}


def handles(model: type[Op]) -> Callable[[Handler[Op]], Handler[Op]]:
    def register(handler: Handler[Op]) -> Handler[Op]:
        HANDLERS[model] = handler
        return handler

    return register


@handles(protocol.Subscribe)
async def _subscribe(s: Session, m: protocol.Subscribe) -> Reply:
    room_id = m.data.room_id
    if len(s.conn.rooms) >= MAX_SUBSCRIPTIONS and room_id not in s.conn.rooms:
        raise refuse(ErrorCode.INVALID_INPUT, "Too many rooms followed on one connection.", max=MAX_SUBSCRIPTIONS)
    s.hub.begin_subscribe(s.conn, room_id)  # buffer from now on: nothing falls between the start and live events
    try:
        start = await streams.start_stream(s.services, s.user_id, room_id, m.data.last_seq)
    except BaseException:
        s.hub.cancel_subscribe(s.conn, room_id)
        raise
    frames: list[dict[str, Any]] = [protocol.event(e) for e in start.missed]
    if start.snapshot is not None:
        if start.resync:
            frames.append(protocol.resync(room_id, start.seq))
        frames.append(protocol.snapshot(room_id, start.snapshot))
    if not s.hub.finish_subscribe(s.conn, room_id, frames, start.seq, ended=start.ended):
        raise refuse(ErrorCode.REMOVED_FROM_ROOM, "You were removed from this room.")
    return {"room_id": room_id, "seq": start.seq}


@handles(protocol.Unsubscribe)
async def _unsubscribe(s: Session, m: protocol.Unsubscribe) -> Reply:
    s.hub.unsubscribe(s.conn, m.data.room_id)
    return {"room_id": m.data.room_id}


@handles(protocol.Ping)
async def _ping(s: Session, m: protocol.Ping) -> Reply:
    return {}


@handles(protocol.HallwayWatch)
async def _hallway_watch(s: Session, m: protocol.HallwayWatch) -> Reply:
    watchers = watchers_of(s.hub)
    watchers.begin(s.conn)  # from now on the rooms that change are kept for it: none falls before the page
    try:
        page = await hallway.live_rooms_page(s.services, s.user_id, 0, m.data.limit)
    except BaseException:
        watchers.stop(s.conn)
        raise
    watchers.finish(s.conn, (entry["room"]["id"] for entry in page.items))
    return page_data(page)


@handles(protocol.HallwayUnwatch)
async def _hallway_unwatch(s: Session, m: protocol.HallwayUnwatch) -> Reply:
    watchers_of(s.hub).stop(s.conn)
    return {}


@handles(protocol.MediaListen)
async def _media_listen(s: Session, m: protocol.MediaListen) -> Reply:
    return {"room_id": m.data.room_id, "jsep": await media.open_listen(s.services, s.user_id, m.data.room_id)}


@handles(protocol.MediaSpeakerMix)
async def _media_speaker_mix(s: Session, m: protocol.MediaSpeakerMix) -> Reply:
    mix = await media.open_speaker_mix(s.services, s.user_id, m.data.room_id)
    return {"room_id": m.data.room_id, "jsep": mix.jsep, "tracks": mix.tracks}


@handles(protocol.MediaStream)
async def _media_stream(s: Session, m: protocol.MediaStream) -> Reply:
    grant = await media.open_stream(s.services, s.user_id, m.data.room_id, s.key)
    return {"room_id": m.data.room_id, "url": grant.url, "expires_at": grant.expires_at}


@handles(protocol.MediaAnswer)
async def _media_answer(s: Session, m: protocol.MediaAnswer) -> Reply:
    await media.answer_listen(s.services, s.user_id, m.data.room_id, m.data.jsep.model_dump())
    return {"room_id": m.data.room_id}


@handles(protocol.MediaSpeak)
async def _media_speak(s: Session, m: protocol.MediaSpeak) -> Reply:
    jsep = await media.open_speak(s.services, s.user_id, m.data.room_id, m.data.jsep.model_dump())
    return {"room_id": m.data.room_id, "jsep": jsep}


@handles(protocol.MediaCandidate)
async def _media_candidate(s: Session, m: protocol.MediaCandidate) -> Reply:
    candidate = m.data.candidate.model_dump(by_alias=True, exclude_none=True) if m.data.candidate else None
    await media.add_candidate(s.services, s.user_id, m.data.room_id, m.data.media, candidate)
    return {"room_id": m.data.room_id}


@handles(protocol.MediaClose)
async def _media_close(s: Session, m: protocol.MediaClose) -> Reply:
    await media.close(s.services, s.user_id, m.data.room_id, m.data.media)
    return {"room_id": m.data.room_id}


@handles(protocol.MediaPickLanguage)
async def _media_pick_language(s: Session, m: protocol.MediaPickLanguage) -> Reply:
    await interpretation.pick_language(s.services, s.user_id, m.data.room_id, m.data.language)
    return {"room_id": m.data.room_id, "language": m.data.language}


@handles(protocol.MediaChannelListen)
async def _media_channel_listen(s: Session, m: protocol.MediaChannelListen) -> Reply:
    jsep = await interpretation.open_channel_listen(s.services, s.user_id, m.data.room_id, m.data.language)
    return {"room_id": m.data.room_id, "language": m.data.language, "jsep": jsep}


@handles(protocol.MediaChannelStream)
async def _media_channel_stream(s: Session, m: protocol.MediaChannelStream) -> Reply:
    grant = await interpretation.open_channel_stream(s.services, s.user_id, m.data.room_id, m.data.language, s.key)
    return {"room_id": m.data.room_id, "language": m.data.language, "url": grant.url, "expires_at": grant.expires_at}


@handles(protocol.MediaInterpret)
async def _media_interpret(s: Session, m: protocol.MediaInterpret) -> Reply:
    offer = m.data.jsep.model_dump()
    jsep = await interpretation.open_interpret(s.services, s.user_id, m.data.room_id, m.data.language, offer)
    return {"room_id": m.data.room_id, "language": m.data.language, "jsep": jsep}


@handles(protocol.MediaInterpretCandidate)
async def _media_interpret_candidate(s: Session, m: protocol.MediaInterpretCandidate) -> Reply:
    candidate = m.data.candidate.model_dump(by_alias=True, exclude_none=True) if m.data.candidate else None
    await interpretation.interpret_candidate(s.services, s.user_id, m.data.room_id, m.data.language, candidate)
    return {"room_id": m.data.room_id}


@handles(protocol.MediaInterpretClose)
async def _media_interpret_close(s: Session, m: protocol.MediaInterpretClose) -> Reply:
    await interpretation.close_interpret(s.services, s.user_id, m.data.room_id, m.data.language)
    return {"room_id": m.data.room_id}


def _command_handler(command: RoomCommand[P, R]) -> Handler[protocol.RoomOp]:
    """A room command's handler: the same ``run`` as its REST route; the answer's fields are the reply's data."""

    async def run(s: Session, m: protocol.RoomOp) -> Reply:
        payload = protocol.payload(command.body, m.data)
        return (await command.run(s.services, s.user_id, m.data.room_id, payload)).model_dump()

    return run


for _command in ROOM_COMMANDS:
    handles(protocol.COMMAND_OPS[_command.op])(_command_handler(_command))

_unhandled = set(protocol.WS_OPS.values()) - set(HANDLERS)
if _unhandled:  # pragma: no cover - a programming error caught at import
    raise RuntimeError(f"WebSocket ops without a handler: {sorted(m.__name__ for m in _unhandled)}")


# --- the endpoint ------------------------------------------------------------------------------------------------


def _hub(services: Services) -> Hub:
    hub = local_hub(services.bus)
    if hub is None:
        raise RuntimeError("the WebSocket endpoint needs a web.hub.Hub as services.bus (or behind the Redis bus)")
    return hub


@router.websocket("/ws")
async def event_stream(websocket: WebSocket) -> None:
    services = get_services(websocket)
    hub = _hub(services)
    origin = websocket.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in services.settings.allowed_origins:
        await websocket.close(WS_CLOSE_FORBIDDEN_ORIGIN, "origin not allowed")
        return
    authenticated_at = hub.now()
    actor = await websocket_actor(websocket)
    if actor is not None and origin is None and "authorization" not in websocket.headers:
        # A cookie came without an Origin: only a browser holds our cookie, and browsers always send Origin.
        await websocket.close(WS_CLOSE_FORBIDDEN_ORIGIN, "origin required")
        return
    await websocket.accept()
    if actor is None:
        # Accepted first so that a browser can read the code (a refused handshake is opaque to scripts).
        await websocket.close(WS_CLOSE_NOT_AUTHENTICATED, "not authenticated")
        return
    writer = websocket.scope.get("extensions", {}).get(FRAMES_EXTENSION)  # offered by `salon serve`'s protocol
    conn = hub.connect(websocket, actor.user_id, actor.session_hash, authenticated_at, writer)
    if conn is None:
        await websocket.close(WS_CLOSE_SESSION_ENDED, "session ended")
        return
    session = Session(services, hub, conn, actor)
    session.send(protocol.hello(actor.user_id))
    try:
        while (message := await _next_message(websocket, conn)) is not None:
            raw = message.get("text")
            if raw is None:
                raw = cast(bytes, message.get("bytes") or b"")
            await session.handle(raw)  # an op under way finishes even if the hub lets go meanwhile
    finally:
        await hub.finish(conn)


async def _next_message(websocket: WebSocket, conn: Connection) -> Message | None:
    """The client's next message; None once it disconnected or the hub let go of the connection (a closed session,
    a dropped slow client), even if the client never sends anything again."""
    if conn.closed:
        return None
    receiving = asyncio.ensure_future(websocket.receive())
    gone = asyncio.ensure_future(conn.gone.wait())
    try:
        await asyncio.wait([receiving, gone], return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not receiving.done():
            # cancel() only asks: the task has no result until it has run its cancellation, so wait for that
            receiving.cancel()
            await asyncio.wait([receiving])
    if receiving.cancelled():
        return None
    message = receiving.result()
    return None if message["type"] == "websocket.disconnect" or conn.closed else message
