"""Web layer: the Prometheus metrics one app instance serves at ``/metrics`` (web/routes_health.py).

Each app has its own ``CollectorRegistry`` (never the library's global one), so tests that build several apps in one
process do not clash. HTTP requests are counted by the middleware (web/observe.py) under the route's *template*
(``/api/v1/rooms/{room_id}``), never the raw path, so an id in a URL cannot grow the series without end. Everything
else is read at scrape time from what the app already keeps: the hub's connection count and counters, the rate
limits' refusals, one count of live rooms in the database and the media plane's own report (app/health.py), which
asks each broadcast worker for its stats at most once per scrape and never walks the rooms.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from salon.adapters.redis_bus.bus import RedisBus
from salon.adapters.redis_media.routing import RoutedMedia
from salon.app.health import live_room_count, media_health
from salon.app.media_health import MediaHealth
from salon.app.services import Services
from salon.web.bus import local_hub
from salon.web.hub import Hub

log = logging.getLogger(__name__)

# The methods a route can answer; anything else a client invents is counted as "other" (cardinality again).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: a 404 for whatever path a scanner tried


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


@dataclass(frozen=True)
class _Scrape:
    """What one scrape read (the parts that need I/O), handed to the collector that turns it into series."""

    services: Services
    rooms_live: int | None
    media: MediaHealth | None


class SalonMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "salon_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "salon_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)  # CPU, memory and open files of this process
        self._scrape: _Scrape | None = None
        self.registry.register(_LiveCollector(self))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    async def render(self, services: Services) -> bytes:
        """The text exposition, after reading what needs I/O (one query, the media plane's report)."""
        rooms_live: int | None = None
        health: MediaHealth | None = None
        try:
            rooms_live = await live_room_count(services)
        except Exception as exc:  # the scrape still answers; the missing series tells the story
            log.warning("metrics: counting live rooms failed: %r", exc)
        try:
            health = await media_health(services.media)
        except Exception as exc:
            log.warning("metrics: the media plane gave no report: %r", exc)
        self._scrape = _Scrape(services, rooms_live, health)
        try:
            return generate_latest(self.registry)
        finally:
            self._scrape = None

    def live(self) -> Iterator[Metric]:
        scrape = self._scrape
        if scrape is None:  # a collect() outside render() (the registry describing itself): nothing live to say
            return
        services = scrape.services
        hub = local_hub(services.bus)
        if hub is not None:
            yield from _hub_metrics(hub)
        if isinstance(services.bus, RedisBus):
            yield from _bus_metrics(services.bus)
        if isinstance(services.media, RoutedMedia):
            yield from _routing_metrics(services.media)
        refusals = CounterMetricFamily(
            "salon_rate_limit_refusals", "Requests and messages refused by a rate limit, by limit.", labels=["limit"]
        )
        for name, count in sorted(services.limits.refusal_counts().items()):
            refusals.add_metric([name], count)
        yield refusals
        if services.limits.is_shared:
            yield CounterMetricFamily(
                "salon_rate_limit_store_errors",
                "Calls to the shared rate-limit store (Redis) that failed; this instance's memory stood in.",
                value=services.limits.outage.errors,
            )
        if scrape.rooms_live is not None:
            yield GaugeMetricFamily("salon_rooms_live", "Rooms open now (not ended).", value=scrape.rooms_live)
        if scrape.media is not None:
            yield from _media_metrics(scrape.media)


class _LiveCollector:
    def __init__(self, metrics: SalonMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.live()


def _routing_metrics(media: RoutedMedia) -> Iterator[Metric]:
    """Which instance drives which room's media (several instances): the leases held here and the calls carried."""
    yield GaugeMetricFamily(
        "salon_media_rooms_held",
        "Rooms whose media this instance drives (their lease is held here).",
        value=len(media.held),
    )
    calls = CounterMetricFamily(
        "salon_media_routed_calls",
        "Media calls between instances: forwarded (sent to a room's holder), served (answered here for another).",
        labels=["direction"],
    )
    calls.add_metric(["forwarded"], media.forwarded)
    calls.add_metric(["served"], media.served)
    yield calls
    yield CounterMetricFamily(
        "salon_media_rooms_taken_over",
        "Rooms taken over here after their holder died, rebuilt from the database.",
        value=media.taken_over,
    )
    yield CounterMetricFamily(
        "salon_media_rooms_lost",
        "Rooms this instance drove that another took over (this one was late renewing).",
        value=media.lost,
    )


def _bus_metrics(bus: RedisBus) -> Iterator[Metric]:
    """The Redis event bus (several instances): its link to Redis, and how often the database filled a gap."""
    yield GaugeMetricFamily(
        "salon_bus_connected", "1 when subscribed to Redis (the event bus), else 0.", value=int(bus.connected)
    )
    yield CounterMetricFamily(
        "salon_bus_reconnects", "Times the event bus subscribed to Redis again after losing it.", value=bus.reconnects
    )
    yield CounterMetricFamily(
        "salon_bus_messages_received", "Messages from other instances received through Redis.", value=bus.received
    )
    unsent = CounterMetricFamily(
        "salon_bus_publish_unsent",
        "Messages not published to Redis, by reason (failed: Redis refused or dropped; skipped: known to be away).",
        labels=["reason"],
    )
    unsent.add_metric(["failed"], bus.publish_failures)
    unsent.add_metric(["skipped"], bus.publish_skipped)
    yield unsent
    sequencer = bus.sequencer
    yield CounterMetricFamily(
        "salon_bus_events_filled",
        "Room events missed on the bus and read from the database.",
        value=sequencer.events_filled,
    )
    yield CounterMetricFamily(
        "salon_bus_events_lost",
        "Room events missed on the bus and already out of the retained window (their clients resync).",
        value=sequencer.events_lost,
    )


def _hub_metrics(hub: Hub) -> Iterator[Metric]:
    yield GaugeMetricFamily("salon_websocket_connections", "Open WebSocket connections.", value=hub.connection_count)
    yield CounterMetricFamily(
        "salon_room_events_published", "Room events published to the hub.", value=hub.events_published
    )
    yield CounterMetricFamily(
        "salon_room_event_frames_fanned_out",
        "Room event frames sent to live subscribers (one per subscriber per event).",
        value=hub.frames_fanned_out,
    )
    dropped = CounterMetricFamily(
        "salon_websocket_dropped",
        "WebSocket connections dropped by the server, by reason (send_queue_full: a client too slow to keep up).",
        labels=["reason"],
    )
    dropped.add_metric(["send_queue_full"], hub.dropped_too_slow)
    yield dropped
    watchers = hub.hallway
    yield GaugeMetricFamily(
        "salon_hallway_watchers", "Connections with the hallway open (live hallway).", value=len(watchers or ())
    )
    yield CounterMetricFamily(
        "salon_hallway_frames",
        "Live hallway frames sent (at most one per watcher per tick, when rooms it shows changed).",
        value=watchers.frames_sent if watchers is not None else 0,
    )


def _media_metrics(health: MediaHealth) -> Iterator[Metric]:
    janus_up = GaugeMetricFamily(
        "salon_janus_up", "1 when the app's session with this Janus node is alive.", labels=["node"]
    )
    rooms = GaugeMetricFamily("salon_janus_rooms", "Rooms with media on this Janus node.", labels=["node"])
    webrtc = GaugeMetricFamily("salon_janus_webrtc_listeners", "WebRTC listeners on this Janus node.", labels=["node"])
    speakers = GaugeMetricFamily("salon_janus_speakers", "Speakers' connections on this Janus node.", labels=["node"])
    dropped = CounterMetricFamily(
        "salon_janus_events_dropped",
        "Media events lost because a queue was full, by Janus node and queue (session: Janus's events waiting for "
        "the adapter; app: the adapter's media events waiting for the app).",
        labels=["node", "queue"],
    )
    for node in health.janus:
        janus_up.add_metric([node.name], int(node.up))
        rooms.add_metric([node.name], node.rooms)
        webrtc.add_metric([node.name], node.webrtc_listeners)
        speakers.add_metric([node.name], node.speakers)
        dropped.add_metric([node.name, "session"], node.session_events_dropped)
        dropped.add_metric([node.name, "app"], node.app_events_dropped)
    yield from (janus_up, rooms, webrtc, speakers, dropped)
    worker_up = GaugeMetricFamily(
        "salon_broadcast_up", "1 when this broadcast worker answered its last stats call.", labels=["node"]
    )
    worker_listeners = GaugeMetricFamily(
        "salon_broadcast_listeners", "Listeners streaming from this broadcast worker.", labels=["node"]
    )
    for worker in health.broadcast:
        worker_up.add_metric([worker.name], int(worker.up))
        worker_listeners.add_metric([worker.name], worker.listeners if worker.up else 0)
    yield from (worker_up, worker_listeners)
    by_tier = GaugeMetricFamily("salon_listeners", "Listeners hearing a room now, by audience tier.", labels=["tier"])
    by_tier.add_metric(["webrtc"], sum(node.webrtc_listeners for node in health.janus))
    by_tier.add_metric(["broadcast"], sum(w.listeners for w in health.broadcast if w.up))
    yield by_tier
