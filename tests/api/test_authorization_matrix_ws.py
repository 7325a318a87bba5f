"""The authorization matrix over the WebSocket: every op in ``WS_OPS`` × every kind of caller, on a real server.

Room commands expect exactly what their HTTP twin expects (tests/support/matrix.py), so the two doors cannot drift
apart; an op missing from ``WS_EXPECT`` fails ``test_every_ws_op_is_in_the_matrix``. Anonymous callers never get
as far as an op: the connection is closed with 4401. Runs on SQLite only (see test_authorization_matrix.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.errors import WS_CLOSE_NOT_AUTHENTICATED
from salon.web.hub import Hub
from salon.web.ws_protocol import WS_OPS
from tests.support.live_server import serve
from tests.support.matrix import CONFLICT, EVERY_MEMBER, IN_ROOM_OK, OK, REMOVED, ROLES, ROOM_OPS, row, scene, token
from tests.support.services import make_services

Expect = dict[str, tuple[int, str | None]]
CANDIDATE = "candidate:1 1 udp 2122260223 198.18.0.1 9 typ host"
MEDIA_REFUSED = (409, "media_refused")
SPEAKER_MIX_UNAVAILABLE = (409, "speaker_mix_unavailable")

# op → (the HTTP row whose expectations it shares, or its own; the data it sends, with placeholders)
WS_EXPECT: dict[str, tuple[Expect, dict[str, Any]]] = {
    "subscribe": (row(**{**EVERY_MEMBER, "removed": REMOVED}), {"room_id": "{room}"}),
    "unsubscribe": (row(**EVERY_MEMBER), {"room_id": "{room}"}),
    "ping": (row(**EVERY_MEMBER), {}),
    # The hallway is every member's; what each is sent is its own visible rooms (tests/api/test_hallway_ws.py).
    "hallway_watch": (row(**EVERY_MEMBER), {"limit": 5}),
    "hallway_unwatch": (row(**EVERY_MEMBER), {}),
    "join": (ROOM_OPS["join"].expect, {"room_id": "{room}"}),
    "leave": (ROOM_OPS["leave"].expect, {"room_id": "{room}"}),
    "raise_hand": (ROOM_OPS["raise_hand"].expect, {"room_id": "{room}"}),
    "lower_hand": (ROOM_OPS["lower_hand"].expect, {"room_id": "{room}"}),
    "set_hands_enabled": (ROOM_OPS["hands"].expect, {"room_id": "{room}", "enabled": False}),
    "invite_up": (ROOM_OPS["invite_up"].expect, {"room_id": "{room}", "user_id": "{lis}"}),
    "accept_invite": (ROOM_OPS["accept"].expect, {"room_id": "{room}"}),
    "decline_invite": (ROOM_OPS["decline"].expect, {"room_id": "{room}"}),
    "mute": (ROOM_OPS["mute"].expect, {"room_id": "{room}", "user_id": "{spk}", "lock": True}),
    "unlock_mute": (ROOM_OPS["unlock"].expect, {"room_id": "{room}", "user_id": "{spk}"}),
    "self_mute": (ROOM_OPS["self_mute"].expect, {"room_id": "{room}", "muted": False}),
    "move_to_audience": (ROOM_OPS["move_down"].expect, {"room_id": "{room}", "user_id": "{spk}"}),
    "set_moderator": (ROOM_OPS["moderators"].expect, {"room_id": "{room}", "user_id": "{spk}", "make": True}),
    "remove": (ROOM_OPS["remove"].expect, {"room_id": "{room}", "user_id": "{lis}"}),
    "let_in": (ROOM_OPS["let_in"].expect, {"room_id": "{room}", "user_id": "{out}"}),
    "ping_member": (ROOM_OPS["ping"].expect, {"room_id": "{room}", "user_id": "{out}"}),
    "end_room": (ROOM_OPS["end"].expect, {"room_id": "{room}"}),
    "set_languages": (ROOM_OPS["set_languages"].expect, {"room_id": "{room}", "floor": "en", "channels": ["ru"]}),
    "set_ducking": (ROOM_OPS["set_ducking"].expect, {"room_id": "{room}", "ducking_db": -30}),
    "assign_interpreter": (
        ROOM_OPS["assign_interpreter"].expect,
        {"room_id": "{room}", "language": "fr", "user_id": "{spk}"},
    ),
    "remove_interpreter": (
        ROOM_OPS["remove_interpreter"].expect,
        {"room_id": "{room}", "language": "ru", "user_id": "{lis}"},
    ),
    "take_booth": (ROOM_OPS["take_booth"].expect, {"room_id": "{room}", "language": "ru"}),
    "offer_handover": (ROOM_OPS["offer_handover"].expect, {"room_id": "{room}", "language": "ru"}),
    "release_booth": (ROOM_OPS["release_booth"].expect, {"room_id": "{room}", "language": "ru"}),
    # Media: hearing needs being in the room, speaking being on stage. Answering with no offer, or a candidate for
    # no connection, is a conflict for those allowed to ask at all; closing one's own connection is always fine.
    "media_listen": (row(**IN_ROOM_OK, removed=REMOVED), {"room_id": "{room}"}),
    # Volume per speaker is a way for the audience to hear the room; people on stage hear it through their own
    # connection (media_refused). The audience passes the check, and the media plane then refuses it in the scene's
    # room, which has interpretation channels (speaker_mix_unavailable: Janus 1.1.2, adapters/janus/forward_rules.py).
    "media_speaker_mix": (
        row(
            listener=SPEAKER_MIX_UNAVAILABLE,
            hand_raised=SPEAKER_MIX_UNAVAILABLE,
            speaker=MEDIA_REFUSED,
            moderator=MEDIA_REFUSED,
            removed=REMOVED,
        ),
        {"room_id": "{room}"},
    ),
    # The broadcast tier is for the audience: people on stage hear the room through their own connection.
    "media_stream": (
        row(**{**IN_ROOM_OK, "speaker": CONFLICT, "moderator": CONFLICT}, removed=REMOVED),
        {"room_id": "{room}"},
    ),
    "media_answer": (
        row(**dict.fromkeys(IN_ROOM_OK, CONFLICT), removed=REMOVED),
        {"room_id": "{room}", "jsep": {"type": "answer", "sdp": "v=0"}},
    ),
    "media_speak": (
        row(speaker=OK, moderator=OK, removed=REMOVED),
        {"room_id": "{room}", "jsep": {"type": "offer", "sdp": "v=0"}},
    ),
    "media_candidate": (
        row(**dict.fromkeys(IN_ROOM_OK, CONFLICT), removed=REMOVED),
        {"room_id": "{room}", "media": "listen", "candidate": {"candidate": CANDIDATE}},
    ),
    "media_close": (row(**EVERY_MEMBER), {"room_id": "{room}", "media": "speak"}),
    # Interpretation channels (the scene's ru booth: the listener live, the raised hand her partner). Hearing a
    # channel is hearing the room; switching needs an answered listen connection first (none here: a conflict).
    "media_pick_language": (
        row(**dict.fromkeys(IN_ROOM_OK, CONFLICT), removed=REMOVED),
        {"room_id": "{room}", "language": "ru"},
    ),
    "media_channel_listen": (row(**IN_ROOM_OK, removed=REMOVED), {"room_id": "{room}", "language": "ru"}),
    "media_channel_stream": (
        row(**{**IN_ROOM_OK, "speaker": CONFLICT, "moderator": CONFLICT}, removed=REMOVED),
        {"room_id": "{room}", "language": "ru"},
    ),
    # Only the booth's interpreters connect into its channel (the media plane mutes all but the live one).
    "media_interpret": (
        row(listener=OK, hand_raised=OK),
        {"room_id": "{room}", "language": "ru", "jsep": {"type": "offer", "sdp": "v=0"}},
    ),
    "media_interpret_candidate": (
        row(listener=CONFLICT, hand_raised=CONFLICT),
        {"room_id": "{room}", "language": "ru", "candidate": {"candidate": CANDIDATE}},
    ),
    "media_interpret_close": (row(**EVERY_MEMBER), {"room_id": "{room}", "language": "ru"}),
}


def test_every_ws_op_is_in_the_matrix() -> None:
    assert set(WS_OPS) == set(WS_EXPECT)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Services, str]]:
    settings = Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40, ws_messages_per_second=1000)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}")
    await upgrade(db)
    services = make_services(settings, db, bus=Hub(settings))
    async with serve(services) as port:
        yield services, f"ws://127.0.0.1:{port}/api/v1/ws"
    await db.dispose()


async def _outcome(url: str, bearer: str | None, op: str, data: dict[str, Any]) -> tuple[str, str | None]:
    """("reply", None), ("error", code) or ("closed", close code)."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
    async with connect(url, additional_headers=headers, proxy=None) as ws:
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["type"] == "hello"
            await ws.send(json.dumps({"op": op, "ref": 1, "data": data}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame["type"] in {"reply", "error"} and frame["ref"] == 1:
                    return ("reply", None) if frame["type"] == "reply" else ("error", frame["error"]["code"])
        except ConnectionClosed:
            return "closed", str(ws.close_code)


@pytest.mark.parametrize("op", sorted(WS_EXPECT))
async def test_ws_authorization_matrix(op: str, live: tuple[Services, str]) -> None:
    services, url = live
    expect, template = WS_EXPECT[op]
    failures = []
    for n, role in enumerate(ROLES):
        ids, names = await scene(services, n)
        bearer = None if role == "anonymous" else await token(services, ids[role])
        data = {k: v.format(**names) if isinstance(v, str) else v for k, v in template.items()}
        got = await _outcome(url, bearer, op, data)
        status, code = expect[role]
        if role == "anonymous":
            wanted: tuple[str, str | None] = ("closed", str(WS_CLOSE_NOT_AUTHENTICATED))
        elif status < 400:
            wanted = ("reply", None)
        else:
            wanted = ("error", code)
        if got != wanted:
            failures.append(f"{role}: expected {wanted}, got {got}")
    assert failures == []
