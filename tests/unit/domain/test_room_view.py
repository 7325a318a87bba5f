"""What a client sees of a room (``salon.domain.room_view``): the snapshot, and how each event changes it.

The cast: ``ada`` moderates, ``bob`` and ``cy`` speak, ``dee``, ``eve`` and ``fay`` listen. Views are built with
``snapshot`` from hand-made participants, so "the view after" is simply the snapshot of the people after.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

import pytest

from salon.domain import stage
from salon.domain.errors import DomainError
from salon.domain.room_view import Snapshot, apply_event, hand_queue, snapshot
from salon.domain.rooms import (
    Access,
    Outcome,
    Participant,
    Profile,
    Role,
    Room,
    RoomEventName,
    RoomType,
    participant_data,
)
from tests.support.domain import at, listener, moderator, speaker
from tests.support.domain import room as base_room


def room(**overrides: Any) -> Room:
    return base_room(**{"capacity": 5000, **overrides})


def batched() -> Room:
    return room(audience_batched=True)


def about(p: Participant) -> dict[str, Any]:
    """The data of every per-person event."""
    return {"participant": participant_data(p)}


def ids(people: list[dict[str, Any]]) -> list[str]:
    return [p["user"]["id"] for p in people]


# The room most event tests start from: a moderator, two speakers, three listeners (one with a hand up).
ADA = moderator(since=0)
BOB = speaker("bob", since=5)
CY = speaker("cy", since=3)
DEE = listener("dee", since=1)
EVE = listener("eve", since=2, hand_raised_at=at(10))
FAY = listener("fay", since=4)
EVERYONE = [ADA, BOB, CY, DEE, EVE, FAY]


def with_(people: list[Participant], *changes: Participant, drop: tuple[str, ...] = ()) -> list[Participant]:
    """``people`` with some replaced (matched by user id) or added, and some dropped."""
    by_id = {p.user_id: p for p in people}
    for c in changes:
        by_id[c.user_id] = c
    return [p for uid, p in by_id.items() if uid not in drop]


def check(
    r: Room, before: list[Participant], name: RoomEventName, data: dict[str, Any], after: list[Participant]
) -> Snapshot:
    """apply_event on the snapshot of ``before`` gives the snapshot of ``after`` (and the seq of the event)."""
    got = apply_event(snapshot(r, before, 41), 42, name, data)
    assert got == snapshot(r, after, 42)
    return got


# --- snapshot --------------------------------------------------------------------------------------------------


def test_the_stage_is_ordered_by_time_on_stage_and_the_audience_by_arrival() -> None:
    late_joiner_up_early = speaker("zed", since=9, stage_since=at(2))
    no_stage_time = speaker("yan", since=1, stage_since=None)
    view = snapshot(room(), [FAY, BOB, EVE, late_joiner_up_early, DEE, no_stage_time, ADA, CY], seq=7)
    assert ids(view["stage"]) == ["ada", "yan", "zed", "cy", "bob"]
    assert ids(view["audience"]) == ["dee", "eve", "fay"]
    assert view["listener_count"] == 3
    assert view["seq"] == 7
    assert view["room"]["id"] == "r1"
    assert view["stage"][0] == participant_data(ADA)


def test_people_arriving_at_the_same_moment_are_ordered_by_user_id() -> None:
    view = snapshot(room(), [listener("zoe"), listener("abe"), speaker("sam"), speaker("bea")], seq=0)
    assert ids(view["stage"]) == ["bea", "sam"]
    assert ids(view["audience"]) == ["abe", "zoe"]


def test_a_batched_audience_lists_only_notable_listeners_but_counts_everyone() -> None:
    invited = listener("gus", since=6, invited_up=True)
    view = snapshot(batched(), [*EVERYONE, invited], seq=0)
    assert ids(view["stage"]) == ["ada", "cy", "bob"]
    assert ids(view["audience"]) == ["eve", "gus"]
    assert view["listener_count"] == 4


def test_an_empty_room_has_an_empty_view() -> None:
    assert snapshot(room(), [], seq=0)["stage"] == []
    assert snapshot(room(), [], seq=0)["audience"] == []
    assert snapshot(room(), [], seq=0)["listener_count"] == 0


def test_the_hand_queue_is_raised_hands_in_the_order_they_went_up() -> None:
    people = [
        listener("dee", hand_raised_at=at(20)),
        listener("eve"),
        listener("fay", hand_raised_at=at(10)),
        listener("abe", hand_raised_at=at(20)),
    ]
    assert ids(hand_queue(snapshot(room(), people, 0))) == ["fay", "abe", "dee"]
    assert hand_queue(snapshot(room(), [listener()], 0)) == []


# --- participant_joined ----------------------------------------------------------------------------------------


def test_a_listener_joining_is_listed_in_arrival_order_and_counted() -> None:
    gus = listener("gus", since=60)
    view = check(room(), EVERYONE, "participant_joined", about(gus), [*EVERYONE, gus])
    assert ids(view["audience"]) == ["dee", "eve", "fay", "gus"]
    assert view["listener_count"] == 4


def test_a_listener_joining_a_batched_room_is_counted_but_not_listed() -> None:
    gus = listener("gus", since=60)
    view = check(batched(), EVERYONE, "participant_joined", about(gus), [*EVERYONE, gus])
    assert ids(view["audience"]) == ["eve"]
    assert view["listener_count"] == 4


def test_someone_joining_straight_onto_the_stage_is_not_a_listener() -> None:
    gus = speaker("gus", since=60, muted=True)
    view = check(batched(), EVERYONE, "participant_joined", about(gus), [*EVERYONE, gus])
    assert ids(view["stage"]) == ["ada", "cy", "bob", "gus"]
    assert view["listener_count"] == 3


# --- hands and invitations -------------------------------------------------------------------------------------


def test_a_raised_hand_shows_on_the_listed_listener() -> None:
    raised = replace(DEE, hand_raised_at=at(30))
    view = check(room(), EVERYONE, "hand_raised", about(raised), with_(EVERYONE, raised))
    assert ids(hand_queue(view)) == ["eve", "dee"]
    assert view["listener_count"] == 3


def test_an_unlisted_listener_raising_a_hand_appears_in_a_batched_audience_without_changing_the_count() -> None:
    raised = replace(DEE, hand_raised_at=at(30))
    view = check(batched(), EVERYONE, "hand_raised", about(raised), with_(EVERYONE, raised))
    assert ids(view["audience"]) == ["dee", "eve"]
    assert view["listener_count"] == 3


def test_a_lowered_hand_stays_listed_in_a_small_room() -> None:
    lowered = replace(EVE, hand_raised_at=None)
    view = check(room(), EVERYONE, "hand_lowered", about(lowered), with_(EVERYONE, lowered))
    assert ids(view["audience"]) == ["dee", "eve", "fay"]
    assert hand_queue(view) == []


def test_a_lowered_hand_drops_off_a_batched_audience_but_is_still_counted() -> None:
    lowered = replace(EVE, hand_raised_at=None)
    view = check(batched(), EVERYONE, "hand_lowered", about(lowered), with_(EVERYONE, lowered))
    assert view["audience"] == []
    assert view["listener_count"] == 3


def test_an_unlisted_listener_invited_up_appears_in_a_batched_audience() -> None:
    invited = replace(FAY, invited_up=True)
    view = check(batched(), EVERYONE, "stage_invited", about(invited), with_(EVERYONE, invited))
    assert ids(view["audience"]) == ["eve", "fay"]
    assert view["listener_count"] == 3


def test_a_declined_invitation_drops_the_listener_off_a_batched_audience() -> None:
    invited = replace(FAY, invited_up=True)
    declined = replace(FAY, invited_up=False)
    before = with_(EVERYONE, invited)
    view = check(batched(), before, "stage_invite_declined", about(declined), with_(EVERYONE, declined))
    assert ids(view["audience"]) == ["eve"]


def test_a_declined_invitation_keeps_a_raised_hand_listed() -> None:
    invited = replace(EVE, invited_up=True)
    check(batched(), with_(EVERYONE, invited), "stage_invite_declined", about(EVE), EVERYONE)


# --- role changes ----------------------------------------------------------------------------------------------


def test_a_listed_listener_coming_up_moves_to_the_stage_and_out_of_the_count() -> None:
    up = replace(EVE, role=Role.SPEAKER, stage_since=at(50), hand_raised_at=None, muted=True)
    view = check(room(), EVERYONE, "role_changed", about(up), with_(EVERYONE, up))
    assert ids(view["stage"]) == ["ada", "cy", "bob", "eve"]
    assert ids(view["audience"]) == ["dee", "fay"]
    assert view["listener_count"] == 2


def test_an_unlisted_listener_brought_up_in_a_batched_room_leaves_the_count() -> None:
    up = replace(FAY, role=Role.SPEAKER, stage_since=at(50), muted=True)
    view = check(batched(), EVERYONE, "role_changed", about(up), with_(EVERYONE, up))
    assert ids(view["stage"]) == ["ada", "cy", "bob", "fay"]
    assert view["listener_count"] == 2


def test_a_speaker_stepping_down_joins_the_listed_audience_of_a_small_room() -> None:
    down = replace(BOB, role=Role.LISTENER, stage_since=None)
    view = check(room(), EVERYONE, "role_changed", about(down), with_(EVERYONE, down))
    assert ids(view["stage"]) == ["ada", "cy"]
    assert ids(view["audience"]) == ["dee", "eve", "fay", "bob"]
    assert view["listener_count"] == 4


def test_a_speaker_stepping_down_in_a_batched_room_is_only_counted() -> None:
    down = replace(BOB, role=Role.LISTENER, stage_since=None)
    view = check(batched(), EVERYONE, "role_changed", about(down), with_(EVERYONE, down))
    assert ids(view["audience"]) == ["eve"]
    assert view["listener_count"] == 4


def test_a_speaker_made_moderator_keeps_their_place_on_stage() -> None:
    promoted = replace(BOB, role=Role.MODERATOR)
    view = check(room(), EVERYONE, "role_changed", about(promoted), with_(EVERYONE, promoted))
    assert ids(view["stage"]) == ["ada", "cy", "bob"]
    assert view["stage"][2]["role"] == "moderator"
    assert view["listener_count"] == 3


def test_a_mute_change_updates_the_speaker_in_place() -> None:
    locked = replace(CY, muted=True, mute_locked=True)
    view = check(batched(), EVERYONE, "mute_changed", about(locked), with_(EVERYONE, locked))
    assert view["stage"][1]["muted"] is True
    assert view["stage"][1]["mute_locked"] is True


# --- departures ------------------------------------------------------------------------------------------------


def left(p: Participant, reason: str = "left") -> dict[str, Any]:
    return {"user_id": p.user_id, "role": p.role.value, "reason": reason}


def test_a_listed_listener_leaving_is_unlisted_and_uncounted() -> None:
    view = check(room(), EVERYONE, "participant_left", left(DEE), with_(EVERYONE, drop=("dee",)))
    assert ids(view["audience"]) == ["eve", "fay"]
    assert view["listener_count"] == 2


def test_an_unlisted_listener_removed_from_a_batched_room_is_uncounted() -> None:
    view = check(batched(), EVERYONE, "participant_left", left(FAY, "removed"), with_(EVERYONE, drop=("fay",)))
    assert view["listener_count"] == 2


def test_a_speaker_leaving_leaves_the_stage_and_the_count_alone() -> None:
    view = check(room(), EVERYONE, "participant_left", left(BOB), with_(EVERYONE, drop=("bob",)))
    assert ids(view["stage"]) == ["ada", "cy"]
    assert view["listener_count"] == 3


# --- room-wide events ------------------------------------------------------------------------------------------


def test_turning_hands_on_only_flips_the_flag() -> None:
    got = apply_event(snapshot(room(hands_enabled=False), EVERYONE, 1), 2, "hands_enabled", {"enabled": True})
    assert got == snapshot(room(hands_enabled=True), EVERYONE, 2)


def test_turning_hands_off_lowers_every_hand_in_a_small_room() -> None:
    before = snapshot(room(), EVERYONE, 1)
    got = apply_event(before, 2, "hands_enabled", {"enabled": False})
    assert got == snapshot(room(hands_enabled=False), with_(EVERYONE, replace(EVE, hand_raised_at=None)), 2)
    assert ids(got["audience"]) == ["dee", "eve", "fay"]
    assert hand_queue(got) == []


def test_turning_hands_off_in_a_batched_room_unlists_all_but_the_invited() -> None:
    invited = listener("gus", since=6, invited_up=True, hand_raised_at=at(12))
    before = snapshot(batched(), [*EVERYONE, invited], 1)
    got = apply_event(before, 2, "hands_enabled", {"enabled": False})
    after = with_([*EVERYONE, invited], replace(EVE, hand_raised_at=None), replace(invited, hand_raised_at=None))
    assert got == snapshot(room(audience_batched=True, hands_enabled=False), after, 2)
    assert ids(got["audience"]) == ["gus"]
    assert got["listener_count"] == 4


def test_switching_to_a_batched_audience_keeps_only_notable_listeners_and_takes_the_count() -> None:
    before = snapshot(room(), EVERYONE, 1)
    got = apply_event(before, 2, "audience_batched", {"listener_count": 3})
    assert got == snapshot(batched(), EVERYONE, 2)
    assert ids(got["audience"]) == ["eve"]


def test_a_listener_count_event_sets_the_count_and_nothing_else() -> None:
    before = snapshot(batched(), EVERYONE, 1)
    got = apply_event(before, 2, "listener_count", {"listener_count": 250})
    assert got == {**before, "seq": 2, "listener_count": 250}


def test_a_room_ending_empties_the_view() -> None:
    got = apply_event(snapshot(room(), EVERYONE, 1), 2, "room_ended", {"ended_at": at(90).isoformat()})
    assert got == snapshot(room(ended_at=at(90)), [], 2)


def test_an_unknown_event_only_advances_seq() -> None:
    before = snapshot(batched(), EVERYONE, 1)
    unknown = cast(RoomEventName, "reaction_sent")  # a name from a newer server: not in this version's closed set
    got = apply_event(before, 9, unknown, {"emoji": "clap", "participant": about(DEE)["participant"]})
    assert got == {**before, "seq": 9}


# --- apply_event never mutates its input -----------------------------------------------------------------------

EVENTS: list[tuple[RoomEventName, dict[str, Any]]] = [
    ("participant_joined", about(listener("gus", since=60))),
    ("participant_joined", about(speaker("gus", since=60))),
    ("hand_raised", about(replace(DEE, hand_raised_at=at(30)))),
    ("hand_lowered", about(replace(EVE, hand_raised_at=None))),
    ("stage_invited", about(replace(FAY, invited_up=True))),
    ("stage_invite_declined", about(replace(FAY, invited_up=False))),
    ("role_changed", about(replace(EVE, role=Role.SPEAKER, stage_since=at(50), hand_raised_at=None))),
    ("role_changed", about(replace(BOB, role=Role.LISTENER, stage_since=None))),
    ("mute_changed", about(replace(BOB, muted=True))),
    ("participant_left", left(EVE)),
    ("participant_left", left(BOB)),
    ("hands_enabled", {"enabled": False}),
    ("hands_enabled", {"enabled": True}),
    ("audience_batched", {"listener_count": 3}),
    ("listener_count", {"listener_count": 7}),
    ("room_ended", {"ended_at": at(90).isoformat()}),
    (cast(RoomEventName, "something_new"), {"x": 1}),  # a name from a newer server
]


@pytest.mark.parametrize("r", [room(), batched()], ids=["small", "batched"])
@pytest.mark.parametrize(("name", "data"), EVENTS, ids=[f"{i}-{n}" for i, (n, _) in enumerate(EVENTS)])
def test_apply_event_never_mutates_its_input(r: Room, name: RoomEventName, data: dict[str, Any]) -> None:
    view = snapshot(r, EVERYONE, 1)
    view_before, data_before = copy.deepcopy(view), copy.deepcopy(data)
    got = apply_event(view, 2, name, data)
    assert view == view_before
    assert data == data_before
    # Nor does the new view share anything with the old one that a later event could change under it.
    for p in [*got["stage"], *got["audience"]]:
        p["muted"] = "poked"
    got["room"]["title"] = "poked"
    assert view == view_before


# --- the protocol: snapshot before + the command's events == snapshot after (Zulip's verify_action) ------------

THRESHOLD = 4
POOL = ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy"]


@dataclass
class Server:
    """The app layer in miniature: holds the state, runs a rule, keeps what it returns, and a client's view."""

    rng: random.Random
    room: Room = field(default_factory=lambda: room(capacity=7))
    people: dict[str, Participant] = field(default_factory=lambda: {"ada": moderator()})
    banned: set[str] = field(default_factory=set)
    stage_invites: set[str] = field(default_factory=set)
    let_in: set[str] = field(default_factory=set)
    seq: int = 0
    clock: int = 0
    view: Snapshot = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.view = snapshot(self.room, self.people.values(), self.seq)

    @property
    def stage(self) -> list[Participant]:
        return [p for p in self.people.values() if p.role.on_stage]

    def listeners(self) -> int:
        return sum(1 for p in self.people.values() if not p.role.on_stage)

    def run(self, rule: Callable[[datetime], Outcome]) -> None:
        self.clock += 1
        now = at(self.clock)
        try:
            out = rule(now)
        except DomainError:
            return
        was_batched = self.room.audience_batched
        for p in out.upserts:
            self.people[p.user_id] = p
        for uid in out.deletes:
            self.people.pop(uid)
        if out.room is not None:
            self.room = out.room
        if out.ban is not None:
            self.banned.add(out.ban)
        if out.grant_access is not None:
            self.let_in.add(out.grant_access)
        if out.stage_invite is not None:
            self.stage_invites.add(out.stage_invite)
        if out.clear_stage_invite is not None:
            self.stage_invites.discard(out.clear_stage_invite)
        if self.room.ended:
            self.people.clear()
        events = [(e.name, e.data) for e in out.events]
        if not was_batched:
            switch = stage.audience_batching(self.room, self.listeners(), THRESHOLD)
            self.room = switch.room or self.room
            events += [(e.name, e.data) for e in switch.events]
        elif (out.upserts or out.deletes) and not out.events:
            events.append(("listener_count", {"listener_count": self.listeners()}))  # the app's flush
        for name, data in events:
            self.seq += 1
            self.view = apply_event(self.view, self.seq, name, data)
        assert self.view == snapshot(self.room, self.people.values(), self.seq)

    def pick(self, fits: Callable[[Participant], bool] = lambda p: True) -> str:
        """Mostly someone in the room who fits the command (so it gets past the obvious refusals), else anyone."""
        fitting = sorted(uid for uid, p in self.people.items() if fits(p))
        return self.rng.choice(fitting if fitting and self.rng.random() < 0.9 else POOL)

    def step(self) -> None:
        r, rng, people = self.room, self.rng, self.people

        def on_stage(p: Participant) -> bool:
            return p.role.on_stage

        def is_mod(p: Participant) -> bool:
            return p.role is Role.MODERATOR

        def is_listener(p: Participant) -> bool:
            return p.role is Role.LISTENER

        def invited(p: Participant) -> bool:
            return p.invited_up

        def raised() -> list[Participant]:
            return [p for p in people.values() if p.hand_raised_at is not None]

        def join(now: datetime) -> Outcome:
            uid = rng.choice(POOL)
            access = Access(
                banned=uid in self.banned, let_in=uid in self.let_in, stage_invite=uid in self.stage_invites
            )
            return stage.join(r, Profile(uid, uid, uid.title()), access, people.get(uid), len(people), now)

        def by(fits: Callable[[Participant], bool]) -> Participant | None:
            return people.get(self.pick(fits))

        mod, stager, listening = by(is_mod), by(on_stage), by(is_listener)
        target_id = self.pick(rng.choice([on_stage, is_listener]))
        target = people.get(target_id)
        commands: list[tuple[int, Callable[[datetime], Outcome]]] = [
            (8, join),
            (3, lambda now: stage.raise_hand(r, listening, now)),
            (2, lambda now: stage.lower_hand(r, by(is_listener))),
            (1, lambda now: stage.set_hands_enabled(r, mod, rng.random() < 0.5, raised())),
            (3, lambda now: stage.invite_up(r, mod, target, target_id, target_id in self.banned)),
            (3, lambda now: stage.accept_stage_invite(r, by(invited), now)),
            (1, lambda now: stage.decline_stage_invite(r, by(invited))),
            (2, lambda now: stage.move_to_audience(r, mod, target, self.stage)),
            (1, lambda now: stage.move_to_audience(r, stager, stager, self.stage)),
            (2, lambda now: stage.set_moderator(r, mod, target, rng.random() < 0.5, self.stage)),
            (2, lambda now: stage.moderator_mute(r, mod, target, rng.random() < 0.5)),
            (1, lambda now: stage.unlock_mute(r, mod, target)),
            (2, lambda now: stage.set_self_muted(r, stager, rng.random() < 0.5)),
            (2, lambda now: stage.leave(r, by(lambda p: True), self.stage, len(people), now)),
            (1, lambda now: stage.remove(r, mod, target, target_id, self.stage, len(people), now)),
            (1, lambda now: stage.let_in(r, mod, target_id)),
        ]
        if rng.random() < 0.004:
            self.run(lambda now: stage.end_room(r, "root", mod, rng.random() < 0.5, self.stage, now))
            return
        weights = [w for w, _ in commands]
        self.run(rng.choices([c for _, c in commands], weights)[0])


@pytest.mark.parametrize("seed", range(40))
def test_the_snapshot_before_a_command_plus_its_events_is_the_snapshot_after(seed: int) -> None:
    rng = random.Random(seed)

    def fresh() -> Server:
        return Server(rng, room(capacity=7, type=rng.choice(list(RoomType))))

    server = fresh()
    for _ in range(250):
        if server.room.ended:
            server = fresh()
        server.step()
