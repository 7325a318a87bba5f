"""An in-memory Janus HTTP API (for ``httpx.MockTransport``): sessions, handles, the long poll, and a small model of
the AudioBridge and Streaming plugins, enough to check what the client sends and how it reads the answers.

The model follows Janus 1.1.2's documented behaviour; the integration tests check the client against a real Janus.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from salon.adapters.janus.api import Jsep

AUDIOBRIDGE = "janus.plugin.audiobridge"
STREAMING = "janus.plugin.streaming"
OFFER: Jsep = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
ANSWER: Jsep = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"}
API_SECRET = "s3cret"
ADMIN_KEY = "adm1n"


@dataclass
class FakeMessage:
    session_id: int
    handle_id: int
    plugin: str
    body: dict[str, Any]
    jsep: dict[str, Any] | None
    transaction: str


@dataclass
class Later:
    """Answer with ``ack``, then send this as an ``event`` on the long poll (``delay`` < 0: before the ack)."""

    data: dict[str, Any]
    jsep: Mapping[str, Any] | None = None
    delay: float = 0.0


class Silent:
    """Answer with ``ack`` and never send the event."""


Answer = dict[str, Any] | Later | Silent
Responder = Callable[[FakeMessage], Answer]


@dataclass
class FakeSession:
    id: int
    handles: dict[int, str] = field(default_factory=dict)
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    keepalives: int = 0


class FakeJanus:
    def __init__(self, *, api_secret: str | None = API_SECRET, hold: float = 0.05) -> None:
        self.api_secret = api_secret
        self.hold = hold
        self.sessions: dict[int, FakeSession] = {}
        self.requests: list[dict[str, Any]] = []  # every POST body, in order
        self.polls = 0
        self.down = False
        self._stall = False
        self.model = PluginModel()
        self.responder: Responder = self.model.respond
        self._ids = itertools.count(1_000_001)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def push(self, session_id: int, message: dict[str, Any]) -> None:
        """Queue an event on a session's long poll."""
        self.sessions[session_id].queue.put_nowait({"session_id": session_id, **message})

    def restart(self) -> None:
        """Janus restarted: every session is gone; open long polls answer 404."""
        for session in self.sessions.values():
            session.queue.put_nowait(None)
        self.sessions.clear()

    def sent(self, janus: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("janus") == janus]

    def bodies(self, request: str | None = None) -> list[dict[str, Any]]:
        """The plugin bodies of every ``message`` (of one ``request`` kind)."""
        return [r["body"] for r in self.sent("message") if request is None or r["body"].get("request") == request]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        parts = request.url.path.strip("/").split("/")[1:]  # after "janus"
        if request.method == "GET" and parts == ["info"]:
            return _json({"janus": "server_info", "version_string": "1.1.2"})
        if request.method == "GET" and len(parts) == 1:
            # Janus 1.1.2 answers a long poll it refuses with a bare status, no JSON.
            if request.url.params.get("apisecret") != self.api_secret:
                return httpx.Response(403)
            return await self._poll(int(parts[0]), int(request.url.params.get("maxev", "1")))
        body = json.loads(request.content)
        self.requests.append(body)
        transaction = body.get("transaction", "")
        if body.get("apisecret") != self.api_secret:
            return _json(_error(transaction, 403, "Unauthorized request (wrong or missing secret/token)"))
        if not parts:
            if body.get("janus") != "create":
                return _json(_error(transaction, 457, "Unhandled request at this path"))
            session = FakeSession(next(self._ids))
            self.sessions[session.id] = session
            return _json({"janus": "success", "transaction": transaction, "data": {"id": session.id}})
        found = self.sessions.get(int(parts[0]))
        if found is None:
            return _json(_error(transaction, 458, f"No such session {parts[0]}"))
        if len(parts) == 1:
            return _json(self._session_request(found, body))
        handle_id = int(parts[1])
        if handle_id not in found.handles:
            return _json(_error(transaction, 459, f"No such handle {handle_id} in session {found.id}"))
        answer = self._handle_request(found, handle_id, body)
        if self._stall:
            # Hold the ack back until the long poll has had time to deliver the event it answers.
            self._stall = False
            await asyncio.sleep(0.05)
        return _json(answer)

    async def _poll(self, session_id: int, maxev: int) -> httpx.Response:
        self.polls += 1
        session = self.sessions.get(session_id)
        if session is None:
            return httpx.Response(404)
        try:
            first = await asyncio.wait_for(session.queue.get(), self.hold)
        except TimeoutError:
            return _json([{"janus": "keepalive"}])
        if first is None or self.down:
            return httpx.Response(404)
        events = [first]
        while len(events) < maxev and not session.queue.empty():
            item = session.queue.get_nowait()
            if item is not None:
                events.append(item)
        return _json(events)

    def _session_request(self, session: FakeSession, body: dict[str, Any]) -> dict[str, Any]:
        transaction = body["transaction"]
        match body.get("janus"):
            case "keepalive":
                session.keepalives += 1
                return {"janus": "ack", "session_id": session.id, "transaction": transaction}
            case "attach":
                if body.get("plugin") not in (AUDIOBRIDGE, STREAMING):
                    return _error(transaction, 460, f"No such plugin '{body.get('plugin')}'")
                handle_id = next(self._ids)
                session.handles[handle_id] = body["plugin"]
                return {
                    "janus": "success",
                    "session_id": session.id,
                    "transaction": transaction,
                    "data": {"id": handle_id},
                }
            case "destroy":
                del self.sessions[session.id]
                session.queue.put_nowait(None)
                return {"janus": "success", "session_id": session.id, "transaction": transaction}
        return _error(transaction, 453, f"Unknown request '{body.get('janus')}'")

    def _handle_request(self, session: FakeSession, handle_id: int, body: dict[str, Any]) -> dict[str, Any]:
        transaction = body["transaction"]
        plugin = session.handles[handle_id]
        base = {"session_id": session.id, "sender": handle_id, "transaction": transaction}
        match body.get("janus"):
            case "hangup" | "trickle":
                return {"janus": "success" if body["janus"] == "hangup" else "ack", **base}
            case "detach":
                del session.handles[handle_id]
                self.model.leave(handle_id)  # like Janus: a participant's handle gone, the participant is gone
                return {"janus": "success", **base}
            case "message":
                pass
            case _:
                return _error(transaction, 453, f"Unknown request '{body.get('janus')}'")
        message = FakeMessage(session.id, handle_id, plugin, body["body"], body.get("jsep"), transaction)
        answer = self.responder(message)
        if isinstance(answer, Silent):
            return {"janus": "ack", **base}
        if isinstance(answer, Later):
            event = {"janus": "event", **base, "plugindata": {"plugin": plugin, "data": answer.data}}
            if answer.jsep is not None:
                event["jsep"] = answer.jsep
            if answer.delay < 0:
                session.queue.put_nowait(event)
                self._stall = True
            else:
                asyncio.get_running_loop().call_later(answer.delay, session.queue.put_nowait, event)
            return {"janus": "ack", **base}
        return {"janus": "success", **base, "plugindata": {"plugin": plugin, "data": answer}}


def _json(payload: Any) -> httpx.Response:
    return httpx.Response(200, json=payload)


def _error(transaction: str | None, code: int, reason: str) -> dict[str, Any]:
    message: dict[str, Any] = {"janus": "error", "error": {"code": code, "reason": reason}}
    if transaction is not None:
        message["transaction"] = transaction
    return message


class PluginModel:
    """Rooms, forwarders and mountpoints as the two plugins keep them, with their admin_key and secret checks."""

    def __init__(self, *, admin_key: str = ADMIN_KEY) -> None:
        self.admin_key = admin_key
        self.rooms: dict[int, dict[str, Any]] = {}
        self.mountpoints: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(7001)
        self.seats: dict[int, tuple[int, int]] = {}  # AudioBridge handle -> (room, participant) it joined

    def respond(self, message: FakeMessage) -> Answer:
        if message.plugin == AUDIOBRIDGE and message.body.get("request") == "configure":
            return self._configure(message.handle_id, message.body)
        handler = self._audiobridge if message.plugin == AUDIOBRIDGE else self._streaming
        answer = handler(message.body, message.jsep)
        if isinstance(answer, Later) and answer.data.get("audiobridge") == "joined":
            self.seats[message.handle_id] = (answer.data["room"], answer.data["id"])
        return answer

    def leave(self, handle_id: int) -> None:
        room_id, pid = self.seats.pop(handle_id, (-1, -1))
        self.rooms.get(room_id, {}).get("participants", {}).pop(pid, None)

    def _configure(self, handle_id: int, body: dict[str, Any]) -> Answer:
        room_id, pid = self.seats.get(handle_id, (-1, -1))
        participant = self.rooms.get(room_id, {}).get("participants", {}).get(pid)
        if participant is None:
            return {"audiobridge": "event", "error_code": 491, "error": "Can't configure (not in a room)"}
        if "group" in body and self.rooms[room_id]["groups"]:
            if body["group"] not in self.rooms[room_id]["groups"]:
                return {"audiobridge": "event", "error_code": 499, "error": f"No such group ({body['group']})"}
            participant["group"] = body["group"]
        for key in ("muted", "volume"):
            if key in body:
                participant[key] = body[key]
        return Later({"audiobridge": "event", "room": room_id, "result": "ok"})

    def _audiobridge(self, body: dict[str, Any], jsep: dict[str, Any] | None) -> Answer:
        request = body.get("request")
        room = self.rooms.get(body.get("room", -1))

        def error(code: int, reason: str) -> dict[str, Any]:
            return {"audiobridge": "event", "error_code": code, "error": reason}

        if request == "create":
            if body.get("admin_key") != self.admin_key:
                return error(489, "Unauthorized (wrong admin_key)")
            if body["room"] in self.rooms:
                return error(486, f"Room {body['room']} already exists")
            self.rooms[body["room"]] = {
                "secret": body.get("secret"), "forwarders": {}, "participants": {}, "groups": body.get("groups", []),
            }  # fmt: skip
            return {"audiobridge": "created", "room": body["room"], "permanent": False}
        if request == "exists":
            return {"audiobridge": "success", "room": body["room"], "exists": room is not None}
        if room is None:
            return error(485, f"No such room ({body.get('room')})")
        if request in ("destroy", "mute", "unmute", "kick") and room["secret"] not in (None, body.get("secret")):
            return error(489, "Unauthorized (wrong secret)")
        match request:
            case "destroy":
                del self.rooms[body["room"]]
                return {"audiobridge": "destroyed", "room": body["room"]}
            case "join":
                if room["groups"] and body.get("group") not in room["groups"]:  # like Janus: required, and known
                    return error(483 if body.get("group") is None else 499, f"No such group ({body.get('group')})")
                pid = body.get("id") or next(self._ids)
                others = [{"id": p, **v} for p, v in room["participants"].items()]
                room["participants"][pid] = {"display": body.get("display"), "setup": False, "muted": body["muted"]}
                if room["groups"]:
                    room["participants"][pid]["group"] = body["group"]
                if "rtp" in body:  # plain RTP (a channel's floor feed): no SDP; fed at once, as by an always-on forward
                    room["participants"][pid]["setup"] = True
                    rtp = {"ip": "127.0.0.1", "port": 41000 + pid % 1000, "payload_type": body["rtp"]["payload_type"]}
                    return Later({"audiobridge": "joined", "room": body["room"], "id": pid, "participants": others,
                                  "rtp": rtp})  # fmt: skip
                return Later({"audiobridge": "joined", "room": body["room"], "id": pid, "participants": others}, ANSWER)
            case "mute" | "unmute" | "kick":
                if body["id"] not in room["participants"]:
                    return error(492, f"No such user {body['id']} in room {body['room']}")
                if request == "kick":
                    del room["participants"][body["id"]]
                else:
                    room["participants"][body["id"]]["muted"] = request == "mute"
                return {"audiobridge": "success"}
            case "listparticipants":
                items = [{"id": p, **v, "talking": False} for p, v in room["participants"].items()]
                return {"audiobridge": "participants", "room": body["room"], "participants": items}
            case "rtp_forward":
                if body.get("admin_key") != self.admin_key:
                    return error(489, "Unauthorized (wrong admin_key)")
                stream_id = next(self._ids)
                # Like Janus: a group only in a room made with groups (elsewhere ignored), and named in the answer.
                grouped = body.get("group") if room["groups"] else None
                if grouped is not None and grouped not in room["groups"]:
                    return error(499, f"No such group ({grouped})")
                room["forwarders"][stream_id] = {**body, "group": grouped}
                answer = {"audiobridge": "success", "room": body["room"], "stream_id": stream_id, "host": body["host"]}
                return answer | ({"group": grouped} if grouped is not None else {})
            case "stop_rtp_forward":
                room["forwarders"].pop(body["stream_id"])
                return {"audiobridge": "success", "room": body["room"], "stream_id": body["stream_id"]}
            case "listforwarders":
                forwarders = [
                    {"stream_id": s, "ip": f["host"], "port": f["port"], "ptype": f["ptype"], "codec": f["codec"],
                     "always_on": f["always_on"]} | ({"group": f["group"]} if f["group"] is not None else {})
                    for s, f in room["forwarders"].items()
                ]  # fmt: skip
                return {"audiobridge": "forwarders", "room": body["room"], "rtp_forwarders": forwarders}
        return error(482, f"Unknown request '{request}'")

    def _streaming(self, body: dict[str, Any], jsep: dict[str, Any] | None) -> Answer:
        request = body.get("request")

        def error(code: int, reason: str) -> dict[str, Any]:
            return {"streaming": "event", "error_code": code, "error": reason}

        if request == "create":
            if body.get("admin_key") != self.admin_key:
                return error(457, "Unauthorized (wrong admin_key)")
            if body["id"] in self.mountpoints:
                return error(456, "A stream with the provided ID already exists")
            base = 20000 + 10 * len(self.mountpoints)
            ports = [
                {"type": "audio", "mid": m["mid"], "port": m["port"] or base + i} for i, m in enumerate(body["media"])
            ]
            port = ports[0]["port"]
            self.mountpoints[body["id"]] = {**body, "viewers": 0, "port": port, "ports": ports}
            stream = {"id": body["id"], "type": "rtp", "is_private": body["is_private"], "ports": ports}
            return {"streaming": "created", "create": str(body["id"]), "permanent": False, "stream": stream}
        if request == "list":
            public = [{"id": i, "type": "rtp"} for i, m in self.mountpoints.items() if not m["is_private"]]
            return {"streaming": "list", "list": public}
        if request in ("watch", "start", "stop"):
            status = {"watch": "preparing", "start": "starting", "stop": "stopping"}[request]
            if request == "watch" and body["id"] not in self.mountpoints:
                return error(455, f"No such mountpoint/stream {body['id']}")
            return Later({"streaming": "event", "result": {"status": status}}, OFFER if request == "watch" else None)
        mountpoint = self.mountpoints.get(body.get("id", -1))
        if mountpoint is None:
            return error(455, f"No such mountpoint/stream {body.get('id')}")
        if request == "info":
            info = {"id": body["id"], "type": "rtp", "viewers": mountpoint["viewers"], "enabled": True}
            if mountpoint.get("secret") is not None and body.get("secret") == mountpoint["secret"]:
                # Like Janus, the ports only to whoever gives the mountpoint's secret.
                info["media"] = [{"type": "audio", "mid": "a", "port": mountpoint["port"]}]
            return {"streaming": "info", "info": info}
        if request == "destroy":
            del self.mountpoints[body["id"]]
            return {"streaming": "destroyed", "id": body["id"]}
        return error(452, f"Unknown request '{request}'")
