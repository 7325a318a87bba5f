"""Adapters layer: typed wrappers for the AudioBridge and Streaming plugin requests Salon uses (Janus 1.1.2).

Janus room, mountpoint and participant ids are integers (the plugins' default; ``string_ids`` stays off). Salon ids
are strings, so :func:`janus_id` maps them deterministically: the same Salon room always lands on the same Janus
room, which lets the app re-create its media state after a Janus restart, and make ``create`` idempotent (a room
that exists answers :data:`AUDIOBRIDGE_ROOM_EXISTS`), without storing a mapping anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from salon.adapters.janus.api import JanusUnavailable, Jsep, PluginReply
from salon.adapters.janus.transport import JanusHandle
from salon.domain.forward_keys import ForwardKey

AUDIOBRIDGE: Final = "janus.plugin.audiobridge"
STREAMING: Final = "janus.plugin.streaming"

OPUS_PAYLOAD_TYPE: Final = 111

# Plugin error codes (janus_audiobridge.c / janus_streaming.c); they overlap the core codes, see JanusError.plugin.
AUDIOBRIDGE_MISSING_ELEMENT: Final = 483  # also a missing admin_key or room secret
AUDIOBRIDGE_NO_SUCH_ROOM: Final = 485
AUDIOBRIDGE_ROOM_EXISTS: Final = 486
AUDIOBRIDGE_UNAUTHORIZED: Final = 489
AUDIOBRIDGE_NO_SUCH_USER: Final = 492
STREAMING_NO_SUCH_MOUNTPOINT: Final = 455
STREAMING_CANT_CREATE: Final = 456
STREAMING_UNAUTHORIZED: Final = 457

# 2**53 - 1: the ids stay exact in any JSON reader, including a browser's.
_ID_MASK: Final = (1 << 53) - 1


def janus_id(salon_id: str) -> int:
    """A Salon id as a Janus id: 53 bits of a keyed BLAKE2b hash, never 0 (0 asks Janus to pick one).

    A collision between two live rooms needs ~10⁸ rooms before it becomes likely; Janus would refuse the second
    ``create`` (room exists) rather than merge them."""
    digest = hashlib.blake2b(salon_id.encode(), digest_size=8, person=b"salon.janus.id").digest()
    return int.from_bytes(digest, "big") & _ID_MASK or 1


def _expect(reply: PluginReply, plugin: str, *kinds: str) -> dict[str, Any]:
    """The reply's data, checked to be the answer the request calls for: a drift in the API fails loudly."""
    if reply.data.get(plugin) not in kinds:
        raise JanusUnavailable(f"{plugin} answered {reply.data.get(plugin)!r}, expected {' or '.join(kinds)}")
    return reply.data


@dataclass(frozen=True)
class Participant:
    id: int
    display: str | None
    setup: bool  # its PeerConnection is up
    muted: bool
    talking: bool | None  # only when the room emits audio levels


@dataclass(frozen=True)
class Forwarder:
    stream_id: int
    host: str
    port: int
    ptype: int | None
    codec: str | None
    always_on: bool
    group: str | None = None  # the group whose mix it carries (None: the room's whole mix)


@dataclass(frozen=True)
class Joined:
    room: int
    participant_id: int
    participants: list[Participant]  # the others already in the room
    jsep: Jsep | None  # Janus's answer to the offer sent with ``join``


@dataclass(frozen=True)
class MountpointInfo:
    id: int
    viewers: int
    enabled: bool
    raw: dict[str, Any]


def _participant(item: dict[str, Any]) -> Participant:
    talking = item.get("talking")
    return Participant(
        id=int(item["id"]),
        display=item.get("display"),
        setup=bool(item.get("setup", False)),
        muted=bool(item.get("muted", False)),
        talking=bool(talking) if talking is not None else None,
    )


class AudioBridge:
    """AudioBridge requests on one handle. ``admin_key`` is the plugin's (needed by ``create`` and, with
    ``lock_rtp_forward``, by ``rtp_forward``); ``room_secret``, when set, protects every room created here."""

    def __init__(self, handle: JanusHandle, *, admin_key: str | None = None, room_secret: str | None = None) -> None:
        self.handle = handle
        self._admin_key = admin_key
        self._room_secret = room_secret

    async def _request(self, body: dict[str, Any], *kinds: str, jsep: Jsep | None = None) -> PluginReply:
        reply = await self.handle.message(body, jsep)
        _expect(reply, "audiobridge", *kinds)
        return reply

    def _secret(self) -> dict[str, Any]:
        return {"secret": self._room_secret} if self._room_secret is not None else {}

    def _admin(self) -> dict[str, Any]:
        return {"admin_key": self._admin_key} if self._admin_key is not None else {}

    async def create(
        self,
        room: int,
        *,
        description: str | None = None,
        sampling_rate: int = 48000,
        audiolevel_event: bool = True,
        audio_active_packets: int = 50,
        audio_level_average: int = 25,
        allow_rtp_participants: bool = False,
        groups: tuple[str, ...] = (),
    ) -> None:
        """Create a room (not saved to Janus's config). ``talking`` comes after ``audio_active_packets`` packets
        (20 ms each) averaging louder than ``audio_level_average`` (dBov below 0: 127 silent, 0 loudest).
        ``allow_rtp_participants``: plain-RTP participants may join (:meth:`join_plain_rtp`); ``groups``: every
        participant must then name one of them, and a forwarder may carry the mix of one group only."""
        body: dict[str, Any] = {
            "request": "create",
            "room": room,
            "permanent": False,
            "is_private": True,
            "sampling_rate": sampling_rate,
            "audiolevel_event": audiolevel_event,
            "audio_active_packets": audio_active_packets,
            "audio_level_average": audio_level_average,
            **self._admin(),
            **self._secret(),
        }
        if allow_rtp_participants:
            body["allow_rtp_participants"] = True
        if groups:
            body["groups"] = list(groups)
        if description is not None:
            body["description"] = description
        await self._request(body, "created")

    async def destroy(self, room: int) -> None:
        await self._request({"request": "destroy", "room": room, "permanent": False, **self._secret()}, "destroyed")

    async def exists(self, room: int) -> bool:
        data = (await self._request({"request": "exists", "room": room}, "success")).data
        return bool(data.get("exists"))

    async def join(
        self,
        room: int,
        jsep: Jsep | None,
        *,
        participant_id: int | None = None,
        display: str | None = None,
        muted: bool = True,
        prebuffer: int | None = None,
        group: str | None = None,
    ) -> Joined:
        """Join ``room`` with the peer's offer; the answer is in the ``joined`` event. ``prebuffer`` 1–2 packets
        keeps latency low (Janus's default, 6, adds ~120 ms). ``group``: required in a room made with groups."""
        body = self._join_body(room, participant_id, display, muted, prebuffer, group)
        reply = await self._request(body, "joined", jsep=jsep)
        data = reply.data
        return Joined(
            room=int(data["room"]),
            participant_id=int(data["id"]),
            participants=[_participant(p) for p in data.get("participants", [])],
            jsep=reply.jsep,
        )

    @staticmethod
    def _join_body(
        room: int,
        participant_id: int | None,
        display: str | None,
        muted: bool,
        prebuffer: int | None,
        group: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"request": "join", "room": room, "muted": muted}
        if participant_id is not None:
            body["id"] = participant_id
        if display is not None:
            body["display"] = display
        if prebuffer is not None:
            body["prebuffer"] = prebuffer
        if group is not None:
            body["group"] = group
        return body

    async def join_plain_rtp(
        self,
        room: int,
        *,
        display: str | None = None,
        prebuffer: int | None = None,
        group: str | None = None,
        volume: int = 100,
        payload_type: int = OPUS_PAYLOAD_TYPE,
    ) -> tuple[str, int]:
        """Join ``room`` as a plain-RTP participant that only sends (no ``ip``/``port`` given: Janus sends it
        nothing); returns the address and UDP port Janus reads its RTP on (the plugin's ``local_ip``). ``volume`` is
        a percentage applied to what it sends before mixing. The room must allow plain-RTP participants."""
        body = self._join_body(room, None, display, False, prebuffer, group)
        body["volume"] = volume
        body["rtp"] = {"payload_type": payload_type}
        data = (await self._request(body, "joined")).data
        rtp = data.get("rtp")
        ip, port = (rtp.get("ip"), rtp.get("port")) if isinstance(rtp, dict) else (None, None)
        if not isinstance(ip, str) or not isinstance(port, int) or port <= 0:
            raise JanusUnavailable(f"a plain-RTP join answered without an address: {rtp!r}")
        return ip, port

    async def configure(
        self,
        *,
        muted: bool | None = None,
        volume: int | None = None,
        group: str | None = None,
        jsep: Jsep | None = None,
    ) -> Jsep | None:
        """Change this handle's own participation; with an offer (a renegotiation) the answer is returned.
        ``volume``: the percentage applied to this participant's audio in the mix (100: unchanged); ``group``: move
        it to another group of a room made with groups (at once: the mixer reads it every 20 ms tick)."""
        body: dict[str, Any] = {"request": "configure"}
        if muted is not None:
            body["muted"] = muted
        if volume is not None:
            body["volume"] = volume
        if group is not None:
            body["group"] = group
        return (await self._request(body, "event", jsep=jsep)).jsep

    async def leave(self) -> None:
        await self._request({"request": "leave"}, "left")

    async def mute(self, room: int, participant_id: int) -> None:
        """Mute someone else, in Janus: their audio leaves the mix whatever their client does."""
        await self._request({"request": "mute", "room": room, "id": participant_id, **self._secret()}, "success")

    async def unmute(self, room: int, participant_id: int) -> None:
        await self._request({"request": "unmute", "room": room, "id": participant_id, **self._secret()}, "success")

    async def kick(self, room: int, participant_id: int) -> None:
        """Remove a participant. This does not stop a re-join: the app must also refuse them a new handle."""
        await self._request({"request": "kick", "room": room, "id": participant_id, **self._secret()}, "success")

    async def list_participants(self, room: int) -> list[Participant]:
        data = (await self._request({"request": "listparticipants", "room": room}, "participants")).data
        return [_participant(p) for p in data.get("participants", [])]

    async def rtp_forward(
        self,
        room: int,
        *,
        host: str,
        port: int,
        ptype: int = OPUS_PAYLOAD_TYPE,
        always_on: bool = True,
        ssrc: int | None = None,
        srtp: ForwardKey | None = None,
        group: str | None = None,
    ) -> int:
        """Forward the room's mix as Opus RTP to ``host:port`` (SRTP with ``srtp``'s suite and key); returns the
        forwarder's ``stream_id``. ``always_on`` sends silence while the stage is empty, so listeners' players never
        starve. ``group``: only the mix of that group's participants (a room made with groups)."""
        data = await self._forward(room, host, port, ptype, always_on, ssrc, srtp, group)
        return int(data["stream_id"])

    async def rtp_forward_group(self, room: int, group: str, *, host: str, port: int) -> tuple[int, bool]:
        """Like :meth:`rtp_forward` of one group's mix (always on); also whether Janus took the group: a room made
        without groups ignores it and forwards its whole mix (janus_audiobridge.c 1.1.2, lines 4781-4819: the answer
        names the group only when the room has groups)."""
        data = await self._forward(room, host, port, OPUS_PAYLOAD_TYPE, True, None, None, group)
        return int(data["stream_id"]), data.get("group") == group

    async def _forward(
        self,
        room: int,
        host: str,
        port: int,
        ptype: int,
        always_on: bool,
        ssrc: int | None,
        srtp: ForwardKey | None,
        group: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "request": "rtp_forward",
            "room": room,
            "host": host,
            "port": port,
            "codec": "opus",
            "ptype": ptype,
            "always_on": always_on,
            **self._admin(),
            **self._secret(),
        }
        if ssrc is not None:
            body["ssrc"] = ssrc
        if srtp is not None:
            body["srtp_suite"], body["srtp_crypto"] = srtp.tag_bits, srtp.key_base64
        if group is not None:
            body["group"] = group
        return (await self._request(body, "success")).data

    async def stop_rtp_forward(self, room: int, stream_id: int) -> None:
        body = {"request": "stop_rtp_forward", "room": room, "stream_id": stream_id, **self._admin(), **self._secret()}
        await self._request(body, "success")

    async def list_forwarders(self, room: int) -> list[Forwarder]:
        body = {"request": "listforwarders", "room": room, **self._secret()}
        data = (await self._request(body, "forwarders")).data
        return [
            Forwarder(
                stream_id=int(f["stream_id"]),
                host=str(f.get("ip", "")),
                port=int(f.get("port", 0)),
                ptype=f.get("ptype"),
                codec=f.get("codec"),
                always_on=bool(f.get("always_on", False)),
                group=f.get("group"),
            )
            for f in data.get("rtp_forwarders", [])
        ]


class Streaming:
    """Streaming requests on one handle. ``admin_key`` is the plugin's (needed by ``create``); ``secret``, when set,
    protects every mountpoint created here."""

    def __init__(self, handle: JanusHandle, *, admin_key: str | None = None, secret: str | None = None) -> None:
        self.handle = handle
        self._admin_key = admin_key
        self._secret = secret

    async def _request(self, body: dict[str, Any], *kinds: str, jsep: Jsep | None = None) -> PluginReply:
        reply = await self.handle.message(body, jsep)
        _expect(reply, "streaming", *kinds)
        return reply

    def _secrets(self) -> dict[str, Any]:
        return {"secret": self._secret} if self._secret is not None else {}

    async def create(
        self,
        mountpoint: int,
        *,
        port: int,
        host: str = "127.0.0.1",
        description: str | None = None,
        is_private: bool = True,
    ) -> int:
        """An RTP mountpoint with one Opus audio stream (mid ``a``) received on ``host:port`` (port 0: Janus picks
        one in its ``rtp_port_range``). Returns the port it listens on. Binding to loopback keeps strangers from
        injecting audio into a room."""
        ports = await self._create(mountpoint, {"a": port}, host, description, is_private)
        return ports.get("a", port)

    async def create_multistream(
        self, mountpoint: int, mids: tuple[str, ...], *, host: str = "127.0.0.1"
    ) -> dict[str, int]:
        """An RTP mountpoint with one Opus audio stream per mid, each on a port of its own that Janus picks; a
        viewer's offer has one m-line per stream, in this order, each tagged with its mid (janus_streaming.c 1.1.2,
        lines 6046-6063). Returns each mid's port."""
        ports = await self._create(mountpoint, dict.fromkeys(mids, 0), host, None, True)
        if set(ports) != set(mids):
            raise JanusUnavailable(f"mountpoint {mountpoint} was made with ports {ports!r}, not one per {mids!r}")
        return ports

    async def _create(
        self, mountpoint: int, ports: dict[str, int], host: str, description: str | None, is_private: bool
    ) -> dict[str, int]:
        media = [
            {"type": "audio", "mid": mid, "port": port, "iface": host, "pt": OPUS_PAYLOAD_TYPE, "codec": "opus",
             "rtpmap": "opus/48000/2"}
            for mid, port in ports.items()
        ]  # fmt: skip
        body: dict[str, Any] = {
            "request": "create",
            "type": "rtp",
            "id": mountpoint,
            "permanent": False,
            "is_private": is_private,
            "media": media,
            **({"admin_key": self._admin_key} if self._admin_key is not None else {}),
            **self._secrets(),
        }
        if description is not None:
            body["description"] = description
        data = (await self._request(body, "created")).data
        stream = data.get("stream")
        answered = stream.get("ports") if isinstance(stream, dict) else None
        return {
            str(p["mid"]): int(p["port"])
            for p in (answered if isinstance(answered, list) else [])
            if isinstance(p, dict) and "mid" in p and "port" in p
        }

    async def destroy(self, mountpoint: int) -> None:
        body = {"request": "destroy", "id": mountpoint, "permanent": False, **self._secrets()}
        await self._request(body, "destroyed")

    async def info(self, mountpoint: int) -> MountpointInfo:
        data = (await self._request({"request": "info", "id": mountpoint, **self._secrets()}, "info")).data
        info = data.get("info")
        if not isinstance(info, dict):
            raise JanusUnavailable("streaming info without an info object")
        return MountpointInfo(
            id=int(info["id"]),
            viewers=int(info.get("viewers", 0)),
            enabled=bool(info.get("enabled", True)),
            raw=info,
        )

    async def list(self) -> list[int]:
        """The ids of the public mountpoints (private ones, the default here, are not listed)."""
        data = (await self._request({"request": "list"}, "list")).data
        return [int(item["id"]) for item in data.get("list", [])]

    async def watch(self, mountpoint: int) -> Jsep:
        """Subscribe this handle to a mountpoint; returns Janus's offer, to be answered with :meth:`start`."""
        reply = await self._request({"request": "watch", "id": mountpoint}, "event")
        if reply.jsep is None:
            raise JanusUnavailable("streaming watch answered without an offer")
        return reply.jsep

    async def start(self, jsep: Jsep | None = None) -> None:
        """Start (or resume) playout; the first ``start`` after ``watch`` carries the peer's answer."""
        await self._request({"request": "start"}, "event", jsep=jsep)

    async def stop(self) -> None:
        await self._request({"request": "stop"}, "event")

    async def switch(self, mountpoint: int) -> None:
        """Move this handle's viewer to another RTP mountpoint on the same PeerConnection (same codec and payload
        type: Salon's mountpoints all are Opus 111); Janus rewrites sequence numbers and timestamps across it."""
        reply = await self._request({"request": "switch", "id": mountpoint}, "event")
        result = reply.data.get("result")
        if not isinstance(result, dict) or result.get("switched") != "ok":
            raise JanusUnavailable(f"streaming switch answered {reply.data!r}")
