"""App layer: what the media plane reports of its nodes — each Janus node's session, rooms and connections, each
broadcast worker's listeners — for the readiness check and the metrics (app/health.py, web/metrics.py). Adapters
build it from what they already hold; ``NullMedia`` has nothing to report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class JanusNodeHealth:
    name: str
    up: bool  # the app's session with it is alive
    rooms: int
    webrtc_listeners: int
    speakers: int
    # Events lost because a queue was full, since the app started (a reader too slow, or stuck): Janus's own events
    # waiting for the adapter ("session": its long poll never waits for a reader), and the media events the adapter
    # made of them waiting for the app ("app"). Either means a speaking light or a hang-up was missed.
    session_events_dropped: int = 0
    app_events_dropped: int = 0


@dataclass(frozen=True)
class BroadcastNodeHealth:
    name: str
    up: bool  # its last stats call answered
    listeners: int


@dataclass(frozen=True)
class MediaHealth:
    janus: list[JanusNodeHealth]
    broadcast: list[BroadcastNodeHealth]

    @property
    def up(self) -> bool:
        """Every Janus node has a live session (each carries its share of the rooms: one down breaks those)."""
        return bool(self.janus) and all(node.up for node in self.janus)


@runtime_checkable
class ReportsHealth(Protocol):
    async def health(self) -> MediaHealth: ...
