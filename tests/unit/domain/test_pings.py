"""Rules of ``salon.domain.pings``: who may ping whom into a live room, and when a ping lets someone in.

The cast: ``ada`` moderates, ``bob`` speaks, ``dee`` listens; ``zed`` is a member outside the room.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.moderation import ModAction, ModerationEntry
from salon.domain.pings import PingFacts, ping
from salon.domain.rooms import Access, Outcome, Participant, RoomType
from tests.support.domain import at, listener, moderator, room, speaker

ADA, BOB, DEE = moderator("ada"), speaker("bob"), listener("dee")
SEEN = PingFacts(Access())  # an open room zed may see; nobody follows or blocks anyone


def facts(
    *,
    access: Access | None = None,
    follows_target: bool = False,
    blocked_by_target: bool = False,
    blocked_target: bool = False,
) -> PingFacts:
    return PingFacts(access or Access(), follows_target, blocked_by_target, blocked_target)


def code_of(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


def let_zed_in(by: Participant = ADA) -> Outcome:
    return Outcome(grant_access="zed", moderation=[ModerationEntry(ModAction.LET_IN, by.user_id, "zed")])


# --- who pings ---------------------------------------------------------------------------------------------------


def test_only_someone_in_the_live_room_pings() -> None:
    assert code_of(lambda: ping(room(), None, None, "zed", SEEN)) is ErrorCode.NOT_IN_ROOM
    assert code_of(lambda: ping(room(ended_at=at(30)), ADA, None, "zed", SEEN)) is ErrorCode.ROOM_ENDED
    # nobody is in an ended room: pinging from one says it ended, as every room command does
    assert code_of(lambda: ping(room(ended_at=at(30)), None, None, "zed", SEEN)) is ErrorCode.ROOM_ENDED


def test_nobody_pings_themself() -> None:
    assert code_of(lambda: ping(room(), DEE, DEE, "dee", facts(follows_target=True))) is ErrorCode.SELF_TARGET


@pytest.mark.parametrize("pinger", [ADA, BOB, DEE])
def test_listeners_and_speakers_ping_members_they_follow_and_moderators_anyone(pinger: Participant) -> None:
    assert ping(room(), pinger, None, "zed", facts(follows_target=True)) == Outcome()
    if pinger is ADA:
        assert ping(room(), pinger, None, "zed", SEEN) == Outcome()
    else:
        assert code_of(lambda: ping(room(), pinger, None, "zed", SEEN)) is ErrorCode.NOT_ALLOWED


# --- whom --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pinger", [ADA, DEE])
def test_nobody_pings_across_a_block_either_way(pinger: Participant) -> None:
    them = facts(follows_target=True, blocked_by_target=True)
    assert code_of(lambda: ping(room(), pinger, None, "zed", them)) is ErrorCode.BLOCKED
    both = facts(follows_target=True, blocked_by_target=True, blocked_target=True)
    assert code_of(lambda: ping(room(), pinger, None, "zed", both)) is ErrorCode.BLOCKED
    me = facts(follows_target=True, blocked_target=True)
    assert code_of(lambda: ping(room(), pinger, None, "zed", me)) is ErrorCode.UNBLOCK_FIRST


def test_pinging_someone_already_in_the_room_is_a_conflict() -> None:
    assert code_of(lambda: ping(room(), ADA, BOB, "bob", facts(follows_target=True))) is ErrorCode.CONFLICT
    assert code_of(lambda: ping(room(), DEE, BOB, "bob", facts(follows_target=True))) is ErrorCode.CONFLICT


def test_nobody_pings_back_someone_a_moderator_removed() -> None:
    removed = facts(follows_target=True, access=Access(banned=True))
    assert code_of(lambda: ping(room(), ADA, None, "zed", removed)) is ErrorCode.REMOVED_FROM_ROOM
    assert code_of(lambda: ping(room(), DEE, None, "zed", removed)) is ErrorCode.REMOVED_FROM_ROOM


# --- closed and social rooms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [RoomType.CLOSED, RoomType.SOCIAL])
def test_a_moderators_ping_lets_someone_who_could_not_see_the_room_in_and_logs_it(kind: RoomType) -> None:
    assert ping(room(type=kind), ADA, None, "zed", SEEN) == let_zed_in()
    assert ping(room(type=kind), ADA, None, "zed", facts(follows_target=True)) == let_zed_in()


@pytest.mark.parametrize(
    ("kind", "access"),
    [
        (RoomType.CLOSED, Access(let_in=True)),
        (RoomType.CLOSED, Access(stage_invite=True)),
        (RoomType.SOCIAL, Access(follows_a_moderator=True)),
        (RoomType.SOCIAL, Access(let_in=True)),
        (RoomType.CLOSED, Access(is_admin=True)),
    ],
)
def test_someone_who_may_see_the_room_already_is_pinged_without_a_let_in(kind: RoomType, access: Access) -> None:
    assert ping(room(type=kind), ADA, None, "zed", facts(access=access)) == Outcome()
    assert ping(room(type=kind), DEE, None, "zed", facts(access=access, follows_target=True)) == Outcome()


@pytest.mark.parametrize("kind", [RoomType.CLOSED, RoomType.SOCIAL])
@pytest.mark.parametrize("pinger", [BOB, DEE])
def test_only_a_moderator_brings_someone_into_a_room_they_cannot_see(kind: RoomType, pinger: Participant) -> None:
    followed = facts(follows_target=True)
    assert code_of(lambda: ping(room(type=kind), pinger, None, "zed", followed)) is ErrorCode.NOT_ALLOWED


@pytest.mark.parametrize("kind", list(RoomType))
@pytest.mark.parametrize("pinger", [ADA, DEE])
def test_nobody_pings_into_a_room_someone_one_of_its_moderators_blocked(kind: RoomType, pinger: Participant) -> None:
    # The refusal is the one for any member the pinger may not bring in: it does not tell the block.
    hidden = facts(follows_target=True, access=Access(blocked_by_a_moderator=True, let_in=True))
    assert code_of(lambda: ping(room(type=kind), pinger, None, "zed", hidden)) is ErrorCode.NOT_ALLOWED
