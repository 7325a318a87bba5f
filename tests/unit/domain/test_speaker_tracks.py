"""Rules of ``salon.domain.speaker_tracks``: a speaker keeps their track while on stage, newcomers take the lowest
free track or ``others``, and a freed track goes to the longest-waiting speaker on ``others``."""

from __future__ import annotations

from salon.domain.speaker_tracks import (
    MIDS,
    OTHERS,
    SPEAKER_TRACKS,
    TRACKS,
    SpeakerTracks,
    follow,
    moved,
    seat,
    unseat,
)

EMPTY = SpeakerTracks()


def seated(*user_ids: str) -> SpeakerTracks:
    tracks = EMPTY
    for user_id in user_ids:
        tracks = seat(tracks, user_id)
    return tracks


def test_the_mids_are_the_own_tracks_then_the_shared_one() -> None:
    assert len(TRACKS) == SPEAKER_TRACKS
    assert MIDS == ("t0", "t1", "t2", "t3", "others")
    assert len(MIDS) <= 5  # Janus 1.1.2's AudioBridge: at most 5 groups a room, one per track


def test_speakers_take_the_lowest_free_tracks_then_share_others() -> None:
    tracks = seated("a", "b", "c", "d", "e", "f")
    assert tracks.mapping() == {"a": "t0", "b": "t1", "c": "t2", "d": "t3", "e": OTHERS, "f": OTHERS}
    assert tracks.waiting == ("e", "f")
    assert tracks.track_of("b") == "t1"
    assert tracks.track_of("f") == OTHERS
    assert tracks.track_of("nobody") is None


def test_seating_twice_changes_nothing() -> None:
    tracks = seated("a", "b", "c", "d", "e")
    assert seat(tracks, "a") is tracks
    assert seat(tracks, "e") is tracks


def test_a_freed_track_goes_to_the_longest_waiting_speaker() -> None:
    tracks = unseat(seated("a", "b", "c", "d", "e", "f"), "b")
    assert tracks.mapping() == {"a": "t0", "e": "t1", "c": "t2", "d": "t3", "f": OTHERS}
    assert tracks.waiting == ("f",)


def test_a_freed_track_with_nobody_waiting_stays_free_and_goes_to_the_next_newcomer() -> None:
    tracks = unseat(seated("a", "b", "c"), "a")
    assert tracks.mapping() == {"b": "t1", "c": "t2"}
    assert seat(tracks, "z").track_of("z") == "t0"


def test_leaving_others_frees_no_track_and_keeps_the_queue_order() -> None:
    tracks = unseat(seated("a", "b", "c", "d", "e", "f", "g"), "f")
    assert tracks.waiting == ("e", "g")
    assert tracks.seats == seated("a", "b", "c", "d").seats


def test_unseating_someone_not_on_stage_changes_nothing() -> None:
    tracks = seated("a")
    assert unseat(tracks, "nobody") is tracks


def test_follow_unseats_the_gone_before_seating_the_new() -> None:
    before = seated("a", "b", "c", "d", "e")
    after = follow(before, ["b", "c", "d", "e", "n"])
    # a left: e (waiting) moves onto t0; n arrives after and finds no free track
    assert after.mapping() == {"e": "t0", "b": "t1", "c": "t2", "d": "t3", "n": OTHERS}
    assert moved(before, after) == {"e": "t0", "n": OTHERS}


def test_follow_is_stable_and_ignores_repeats() -> None:
    tracks = seated("a", "b")
    assert follow(tracks, ["b", "a", "b"]).mapping() == tracks.mapping()
    assert moved(tracks, follow(tracks, ["a", "b"])) == {}
    assert follow(tracks, []).mapping() == {}
