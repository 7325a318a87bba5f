"""Who may hear a room and who may speak into it: the media rule, decided by the server."""

from __future__ import annotations

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.media import MediaKind, check_audience_reader, check_media, check_speaker_mix
from salon.domain.rooms import Access, Participant, Room
from tests.support.domain import at, listener, moderator, room, speaker


def refused(kind: MediaKind, participant: Participant | None, **options: object) -> ErrorCode:
    room_ = options.pop("room", room())
    with pytest.raises(DomainError) as caught:
        check_media(room_, participant, kind, **options)  # type: ignore[arg-type]
    return caught.value.code


@pytest.mark.parametrize("participant", [moderator(), speaker(), listener()])
def test_everyone_in_the_room_may_listen(participant: Participant) -> None:
    check_media(room(), participant, "listen")


@pytest.mark.parametrize("participant", [moderator(), speaker()])
def test_the_stage_may_speak(participant: Participant) -> None:
    check_media(room(), participant, "speak")


def test_a_listener_may_not_speak() -> None:
    assert refused("speak", listener()) == ErrorCode.NOT_ALLOWED


@pytest.mark.parametrize("kind", ["listen", "speak"])
def test_outsiders_removed_members_and_ended_rooms_get_nothing(kind: MediaKind) -> None:
    assert refused(kind, None) == ErrorCode.NOT_IN_ROOM
    assert refused(kind, None, banned=True) == ErrorCode.REMOVED_FROM_ROOM
    assert refused(kind, moderator(), room=room(ended_at=at(5))) == ErrorCode.ROOM_ENDED
    assert refused(kind, None, room=None) == ErrorCode.NOT_FOUND


def audience_refusal(participant: Participant | None, access: Access, room_: Room | None = None) -> ErrorCode | None:
    try:
        check_audience_reader(room_ or room(), access, participant)
    except DomainError as error:
        return error.code
    return None


def test_a_rooms_moderators_and_admins_see_how_its_audience_listens() -> None:
    assert audience_refusal(moderator(), Access()) is None
    assert audience_refusal(None, Access(is_admin=True)) is None
    assert audience_refusal(speaker(), Access()) == ErrorCode.NOT_ALLOWED
    assert audience_refusal(listener(), Access()) == ErrorCode.NOT_ALLOWED
    assert audience_refusal(None, Access()) == ErrorCode.NOT_IN_ROOM
    assert audience_refusal(moderator(), Access(), room(ended_at=at(5))) == ErrorCode.ROOM_ENDED


def speaker_mix_refusal(
    participant: Participant | None, room_: Room | None = None, *, banned: bool = False
) -> ErrorCode | None:
    try:
        check_speaker_mix(room_ or room(), participant, banned=banned)
    except DomainError as error:
        return error.code
    return None


def test_the_per_speaker_mix_is_for_the_audience() -> None:
    assert speaker_mix_refusal(listener()) is None
    assert speaker_mix_refusal(speaker()) == ErrorCode.MEDIA_REFUSED, "on stage: the speak connection hears it"
    assert speaker_mix_refusal(moderator()) == ErrorCode.MEDIA_REFUSED
    assert speaker_mix_refusal(None) == ErrorCode.NOT_IN_ROOM
    assert speaker_mix_refusal(None, banned=True) == ErrorCode.REMOVED_FROM_ROOM
    assert speaker_mix_refusal(listener(), room(ended_at=at(5))) == ErrorCode.ROOM_ENDED
