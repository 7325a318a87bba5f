"""Domain layer: which track of a room's per-speaker mix carries each speaker on stage.

A listener who opts in to the per-speaker mix receives the stage as separate tracks, so their client can set each
speaker's volume: :data:`SPEAKER_TRACKS` tracks of one speaker each (``t0``, ``t1``, ...) and one shared track,
:data:`OTHERS`, for every speaker beyond them. The number is bounded by the media plane: Janus 1.1.2's AudioBridge
allows 5 forwarding groups per room (``JANUS_AUDIOBRIDGE_MAX_GROUPS``), one per track.

The rule is stable, so a listener's volume for a person stays on the track it was set for:
- a speaker keeps their track while on stage;
- a speaker coming on stage takes the lowest free track, or :data:`OTHERS` when none is free;
- when a track frees up, the speaker who has waited longest on :data:`OTHERS` moves onto it.

Pure rules: every function takes the state and returns the new state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

SPEAKER_TRACKS: Final = 4
TRACKS: Final[tuple[str, ...]] = tuple(f"t{i}" for i in range(SPEAKER_TRACKS))
OTHERS: Final = "others"
# Every track of the per-speaker mix, in the order the media plane offers them (its mids).
MIDS: Final[tuple[str, ...]] = (*TRACKS, OTHERS)


@dataclass(frozen=True)
class SpeakerTracks:
    """A room's assignment: ``seats`` maps a speaker (user id) to their own track; ``waiting`` lists the speakers on
    :data:`OTHERS`, longest-waiting first."""

    seats: Mapping[str, str] = field(default_factory=dict)
    waiting: tuple[str, ...] = ()

    def mapping(self) -> dict[str, str]:
        """Every speaker's track (a mid of :data:`MIDS`), by user id."""
        return {**dict(self.seats), **dict.fromkeys(self.waiting, OTHERS)}

    def track_of(self, user_id: str) -> str | None:
        """The speaker's track, or None when they are not on stage."""
        return self.mapping().get(user_id)


def seat(tracks: SpeakerTracks, user_id: str) -> SpeakerTracks:
    """A speaker comes on stage: the lowest free track, else :data:`OTHERS`. A speaker already seated keeps theirs."""
    if user_id in tracks.seats or user_id in tracks.waiting:
        return tracks
    taken = set(tracks.seats.values())
    free = next((track for track in TRACKS if track not in taken), None)
    if free is None:
        return SpeakerTracks(tracks.seats, (*tracks.waiting, user_id))
    return SpeakerTracks({**tracks.seats, user_id: free}, tracks.waiting)


def unseat(tracks: SpeakerTracks, user_id: str) -> SpeakerTracks:
    """A speaker leaves the stage: their own track goes to the longest-waiting speaker on :data:`OTHERS`, if any."""
    if user_id in tracks.waiting:
        return SpeakerTracks(tracks.seats, tuple(u for u in tracks.waiting if u != user_id))
    freed = tracks.seats.get(user_id)
    if freed is None:
        return tracks
    seats = {u: t for u, t in tracks.seats.items() if u != user_id}
    if not tracks.waiting:
        return SpeakerTracks(seats, ())
    first, *rest = tracks.waiting
    return SpeakerTracks({**seats, first: freed}, tuple(rest))


def follow(tracks: SpeakerTracks, on_stage: Iterable[str]) -> SpeakerTracks:
    """The assignment for the speakers ``on_stage`` now: those gone are unseated first (freeing tracks), then the
    newcomers are seated in the order given."""
    present = list(dict.fromkeys(on_stage))
    wanted = set(present)
    for user_id in [*tracks.seats, *tracks.waiting]:
        if user_id not in wanted:
            tracks = unseat(tracks, user_id)
    for user_id in present:
        tracks = seat(tracks, user_id)
    return tracks


def moved(before: SpeakerTracks, after: SpeakerTracks) -> dict[str, str]:
    """The speakers whose track changed (newcomers included), with their new track: what the media plane re-tags."""
    old, new = before.mapping(), after.mapping()
    return {user_id: track for user_id, track in new.items() if old.get(user_id) != track}
