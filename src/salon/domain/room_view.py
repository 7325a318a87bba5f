"""Domain layer: what a client sees of a room — the snapshot, and how each event changes it.

``snapshot`` builds the view from stored state; ``apply_event`` is the client's side of the protocol, written once
here so that tests can prove, for every command, that the snapshot taken before it plus its events equals a fresh
snapshot (Zulip's ``verify_action``). The web client and ``salon.client`` follow the same rules.

The audience is listed person by person until the room's audience is batched (a big room); from then on only
"notable" listeners (hand raised or invited up) are listed and the rest is ``listener_count``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from salon.domain.rooms import Participant, Role, Room, RoomEventName, participant_data, room_data

Snapshot = dict[str, Any]

# Events that carry one participant's new card, which may move them between the stage and the audience.
_PARTICIPANT_CHANGES: frozenset[RoomEventName] = frozenset(
    {
        "hand_raised",
        "hand_lowered",
        "stage_invited",
        "stage_invite_declined",
        "stage_invite_expired",
        "role_changed",
        "mute_changed",
    }
)


def _stage_key(p: dict[str, Any]) -> tuple[str, str]:
    return (p["stage_since"] or p["joined_at"], p["user"]["id"])


def _audience_key(p: dict[str, Any]) -> tuple[str, str]:
    return (p["joined_at"], p["user"]["id"])


def _notable(p: dict[str, Any]) -> bool:
    return p["hand_raised_at"] is not None or bool(p["invited_up"])


def snapshot(
    room: Room, participants: Iterable[Participant], seq: int, interpretation: dict[str, Any] | None = None
) -> Snapshot:
    """The room as a client starts from. ``interpretation``: its languages and booths
    (``interpretation.interpretation_data``), None when it declared none."""
    stage: list[dict[str, Any]] = []
    audience: list[dict[str, Any]] = []
    listeners = 0
    for p in participants:
        data = participant_data(p)
        if p.role.on_stage:
            stage.append(data)
        else:
            listeners += 1
            if not room.audience_batched or p.notable:
                audience.append(data)
    stage.sort(key=_stage_key)
    audience.sort(key=_audience_key)
    return {
        "room": room_data(room),
        "seq": seq,
        "stage": stage,
        "audience": audience,
        "listener_count": listeners,
        "interpretation": interpretation,
    }


def hand_queue(view: Snapshot) -> list[dict[str, Any]]:
    """Raised hands in the order they went up (what moderators see)."""
    raised = [p for p in view["audience"] if p["hand_raised_at"] is not None]
    return sorted(raised, key=lambda p: (p["hand_raised_at"], p["user"]["id"]))


def _pop(view: Snapshot, user_id: str) -> tuple[str, dict[str, Any] | None]:
    """Remove a person from whichever list holds them; say where they were ("stage", "audience" or "")."""
    for where in ("stage", "audience"):
        for i, p in enumerate(view[where]):
            if p["user"]["id"] == user_id:
                return where, view[where].pop(i)
    return "", None


def _place(view: Snapshot, p: dict[str, Any]) -> None:
    if p["role"] != Role.LISTENER.value:
        view["stage"].append(p)
        view["stage"].sort(key=_stage_key)
    elif not view["room"]["audience_batched"] or _notable(p):
        view["audience"].append(p)
        view["audience"].sort(key=_audience_key)


def apply_event(view: Snapshot, seq: int, name: RoomEventName, data: dict[str, Any]) -> Snapshot:
    """Return a new view with one event applied. Unknown events only advance ``seq`` (forward compatibility)."""
    v = copy.deepcopy(view)
    v["seq"] = seq
    if name == "participant_joined":
        p = data["participant"]
        if p["role"] == Role.LISTENER.value:
            v["listener_count"] += 1
        _place(v, p)
    elif name in _PARTICIPANT_CHANGES:
        p = data["participant"]
        where, _old = _pop(v, p["user"]["id"])
        was_listener = where != "stage"  # absent means a listener the batched view did not list
        is_listener = p["role"] == Role.LISTENER.value
        v["listener_count"] += int(is_listener) - int(was_listener)
        _place(v, p)
    elif name == "participant_left":
        _pop(v, data["user_id"])
        if data["role"] == Role.LISTENER.value:
            v["listener_count"] -= 1
    elif name == "hands_enabled":
        v["room"]["hands_enabled"] = data["enabled"]
        if not data["enabled"]:
            for p in v["audience"]:
                p["hand_raised_at"] = None
            if v["room"]["audience_batched"]:
                v["audience"] = [p for p in v["audience"] if _notable(p)]
    elif name == "audience_batched":
        v["room"]["audience_batched"] = True
        v["audience"] = [p for p in v["audience"] if _notable(p)]
        v["listener_count"] = data["listener_count"]
    elif name == "listener_count":
        v["listener_count"] = data["listener_count"]
    elif name == "interpretation_changed":
        v["interpretation"] = data["interpretation"]
    elif name == "room_ended":
        v["room"]["ended_at"] = data["ended_at"]
        v["stage"], v["audience"], v["listener_count"] = [], [], 0
    return v
