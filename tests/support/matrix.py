"""Test support: the callers and the expected outcomes of the authorization matrix, shared by the HTTP and the
WebSocket matrices (tests/api/test_authorization_matrix*.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from salon.app import interpretation, stage
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.domain.interpretation import RoomLanguages
from salon.domain.rooms import RoomType
from tests.support.people import add_member

ROLES = (
    "anonymous",
    "outsider",
    "listener",
    "hand_raised",
    "speaker",
    "moderator",
    "removed",
    "other_moderator",
    "admin",
)

OK = (200, None)
CREATED = (201, None)
UNAUTH = (401, "not_authenticated")
NOT_IN = (409, "not_in_room")
FORBID = (403, "not_allowed")
CONFLICT = (409, "conflict")
REMOVED = (403, "removed_from_room")


def row(**cells: tuple[int, str | None]) -> dict[str, tuple[int, str | None]]:
    """Defaults: anonymous → 401; outsiders (not in the room) → not_in_room; people in the room → not_allowed."""
    base: dict[str, tuple[int, str | None]] = {
        "anonymous": UNAUTH,
        "outsider": NOT_IN,
        "removed": NOT_IN,
        "other_moderator": NOT_IN,
        "admin": NOT_IN,
        "listener": FORBID,
        "hand_raised": FORBID,
        "speaker": FORBID,
        "moderator": FORBID,
    }
    base.update(cells)
    assert set(base) == set(ROLES)
    return base


EVERY_MEMBER = {r: OK for r in ROLES if r != "anonymous"}
IN_ROOM_OK = {r: OK for r in ("listener", "hand_raised", "speaker", "moderator")}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    body: dict[str, Any] | None
    expect: dict[str, tuple[int, str | None]]


# Targets: "{spk}" is the speaker, "{lis}" the listener, "{out}" the outsider.
ROOM_OPS: dict[str, Op] = {
    "snapshot": Op("GET", "/rooms/{room}", None, row(**EVERY_MEMBER)),
    "followed_by_speakers": Op("GET", "/rooms/{room}/followed-by-speakers", None, row(**EVERY_MEMBER)),
    "events": Op("GET", "/rooms/{room}/events?after=0", None, row(**{**EVERY_MEMBER, "removed": REMOVED})),
    "join": Op("POST", "/rooms/{room}/join", None, row(**{**EVERY_MEMBER, "removed": REMOVED})),
    "leave": Op("POST", "/rooms/{room}/leave", None, row(**IN_ROOM_OK)),
    "raise_hand": Op(
        "POST", "/rooms/{room}/hand/raise", None, row(listener=OK, hand_raised=OK, speaker=CONFLICT, moderator=CONFLICT)
    ),
    "lower_hand": Op("POST", "/rooms/{room}/hand/lower", None, row(**IN_ROOM_OK)),
    "hands": Op("POST", "/rooms/{room}/hands", {"enabled": False}, row(moderator=OK)),
    "invite_up": Op("POST", "/rooms/{room}/invite-up", {"user_id": "{lis}"}, row(moderator=OK)),
    "accept": Op("POST", "/rooms/{room}/invite-up/accept", None, row(speaker=CONFLICT, moderator=CONFLICT)),
    "decline": Op("POST", "/rooms/{room}/invite-up/decline", None, row()),
    "mute": Op("POST", "/rooms/{room}/mute", {"user_id": "{spk}", "lock": True}, row(moderator=OK)),
    "unlock": Op("POST", "/rooms/{room}/unlock-mute", {"user_id": "{spk}"}, row(moderator=OK)),
    "self_mute": Op("POST", "/rooms/{room}/self-mute", {"muted": False}, row(speaker=OK, moderator=OK)),
    "move_down": Op("POST", "/rooms/{room}/move-to-audience", {"user_id": "{spk}"}, row(speaker=OK, moderator=OK)),
    "moderators": Op("POST", "/rooms/{room}/moderators", {"user_id": "{spk}", "make": True}, row(moderator=OK)),
    "remove": Op("POST", "/rooms/{room}/remove", {"user_id": "{lis}"}, row(moderator=OK)),
    "let_in": Op("POST", "/rooms/{room}/let-in", {"user_id": "{out}"}, row(moderator=OK)),
    # Nobody in the scene follows the outsider: only the moderator may ping them (tests/integration/test_pings.py
    # covers pings between followers, blocks and closed rooms).
    "ping": Op("POST", "/rooms/{room}/ping", {"user_id": "{out}"}, row(moderator=OK)),
    # Interpretation channels: the room speaks en with ru and fr channels; the listener is the ru booth's live
    # interpreter, the raised hand her partner (not live). Only moderators set languages and interpreters; only a
    # booth's interpreters move its floor, and only the live one may hand it over.
    "set_languages": Op("POST", "/rooms/{room}/languages", {"floor": "en", "channels": ["ru"]}, row(moderator=OK)),
    "set_ducking": Op("POST", "/rooms/{room}/ducking", {"ducking_db": -30}, row(moderator=OK)),
    "assign_interpreter": Op(
        "POST", "/rooms/{room}/interpreters", {"language": "fr", "user_id": "{spk}"}, row(moderator=OK)
    ),
    "remove_interpreter": Op(
        "POST", "/rooms/{room}/interpreters/remove", {"language": "ru", "user_id": "{lis}"}, row(moderator=OK)
    ),
    "take_booth": Op("POST", "/rooms/{room}/booth/take", {"language": "ru"}, row(listener=OK, hand_raised=CONFLICT)),
    "offer_handover": Op(
        "POST", "/rooms/{room}/booth/hand-over", {"language": "ru"}, row(listener=OK, hand_raised=CONFLICT)
    ),
    "release_booth": Op("POST", "/rooms/{room}/booth/release", {"language": "ru"}, row(listener=OK, hand_raised=OK)),
    "end": Op("POST", "/rooms/{room}/end", None, row(moderator=OK, admin=OK)),
    "create": Op("POST", "/rooms", {"title": "Another"}, {**{r: CREATED for r in ROLES}, "anonymous": UNAUTH}),
    "list": Op("GET", "/rooms", None, {**{r: OK for r in ROLES}, "anonymous": UNAUTH}),
    "ice_servers": Op("GET", "/media/ice-servers", None, {**{r: OK for r in ROLES}, "anonymous": UNAUTH}),
    "moderation_log": Op("GET", "/rooms/{room}/moderation-log", None, row(moderator=OK, admin=OK)),
    "audience": Op("GET", "/rooms/{room}/audience", None, row(moderator=OK, admin=OK)),
}


async def scene(services: Services, n: int) -> tuple[dict[str, str], dict[str, str]]:
    """A live room with one person of each kind; returns (user ids by role, ids used in bodies and paths)."""
    ids = {role: await add_member(services, f"{role[:10]}{n}", admin=role == "admin") for role in ROLES[1:]}
    mod, spk = ids["moderator"], ids["speaker"]
    languages = RoomLanguages("en", ("ru", "fr"))
    room = (await create_room(services, mod, NewRoom("Matrix", "", [], RoomType.OPEN, languages=languages)))["room"][
        "id"
    ]
    for who in ("speaker", "listener", "hand_raised", "removed"):
        await stage.join(services, ids[who], room)
    await stage.invite_up(services, mod, room, spk)
    await stage.accept_stage_invite(services, spk, room)
    await stage.raise_hand(services, ids["hand_raised"], room)
    await stage.remove(services, mod, room, ids["removed"])
    await interpretation.assign_interpreter(services, mod, room, "ru", ids["listener"])
    await interpretation.assign_interpreter(services, mod, room, "ru", ids["hand_raised"])
    await interpretation.take_booth(services, ids["listener"], room, "ru")
    await create_room(services, ids["other_moderator"], NewRoom("Elsewhere", "", [], RoomType.OPEN))
    return ids, {"room": room, "spk": spk, "lis": ids["listener"], "out": ids["outsider"]}


async def token(services: Services, user_id: str) -> str:
    async with services.db.transaction() as conn:
        return (await create_session(services, conn, user_id, "bearer")).token


# --- the admin area: every admin route × (anonymous, a member, a room's moderator, an admin) -------------------------
# "{user}" is a plain member, "{report}" a report on them, "{entry}" someone on the waitlist, "{room}" a live room.
ADMIN_ROLES = ("anonymous", "member", "moderator", "admin")


def admin_row(admin: tuple[int, str | None] = OK) -> dict[str, tuple[int, str | None]]:
    """Anonymous → 401; every member who is not an admin (a room's moderator too) → 403 not_allowed."""
    return {"anonymous": UNAUTH, "member": FORBID, "moderator": FORBID, "admin": admin}


ADMIN_OPS: dict[str, Op] = {
    "members": Op("GET", "/admin/users?q=a", None, admin_row()),
    "grant": Op("POST", "/admin/users/{user}/invites", {"count": 2}, admin_row()),
    "disable": Op("POST", "/admin/users/{user}/disable", None, admin_row()),
    "enable": Op("POST", "/admin/users/{user}/enable", None, admin_row()),
    "make_admin": Op("POST", "/admin/users/{user}/admin", {"admin": True}, admin_row()),
    "reports": Op("GET", "/admin/reports", None, admin_row()),
    "resolve": Op("POST", "/admin/reports/{report}/resolve", {"note": "done"}, admin_row()),
    "dismiss": Op("POST", "/admin/waitlist/{entry}/dismiss", None, admin_row()),
    "rooms": Op("GET", "/admin/rooms", None, admin_row()),
    "settings": Op("GET", "/admin/settings", None, admin_row()),
    "change_settings": Op("PATCH", "/admin/settings", {"waitlist_open": False}, admin_row()),
    "log": Op("GET", "/admin/log", None, admin_row()),
}
