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
