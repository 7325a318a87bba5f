"""Adapters layer: the media plane ``salon serve`` runs on — a managed Janus child process, or external Janus nodes.

``open_media_plane(settings)`` is what the app's lifespan enters. With no external node configured it starts a
``ManagedJanus`` in ``<data_dir>/janus`` (locked-down config, supervised, restarted if it dies) and connects a
``JanusMedia`` to it, and beside it the broadcast workers (the audience tier for browsers that decode Opus
themselves) unless the policy is WebRTC only; with one external node it connects to that node; with several it
spreads rooms over them (``JanusCluster``). Broadcast nodes on other boxes (``broadcast_nodes``) join the fleet
in either case, and are the only ones external Janus nodes forward to. Leaving stops everything. A restarted Janus
needs nothing from here: ``JanusMedia`` notices the lost session and emits ``media_reset``; the app re-creates the
live rooms.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from salon.adapters.broadcast.fleet import BroadcastFleet, BroadcastNode
from salon.adapters.broadcast.process import ManagedBroadcast, WorkerPlan
from salon.adapters.janus.cluster import JanusCluster
from salon.adapters.janus.config import ManagedJanusConfig, config_folder
from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.process import ManagedJanus
from salon.app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class MediaPlane:
    """What the app runs on: the media port, and the origins listeners fetch broadcast streams from (the web app's
    Content-Security-Policy must allow them)."""

    media: JanusMedia | JanusCluster
    stream_origins: list[str] = field(default_factory=list)


def broadcast_secret(settings: Settings) -> str:
    """The secret the app shares with its broadcast workers (tickets, control): derived from the app's own."""
    key = settings.resolved_secret().encode()
    return hmac.new(key, b"salon.broadcast.secret", hashlib.sha256).hexdigest()


def _tls_public_url(settings: Settings) -> str:
    """The workers' own HTTPS URL: the host listeners already reach the app at (the one a certificate names), not
    the address the workers bind (often 0.0.0.0)."""
    host = urlsplit(settings.public_url).hostname or settings.host
    return f"https://{f'[{host}]' if ':' in host else host}:{{port}}"


def worker_plan(settings: Settings) -> WorkerPlan:
    tls_cert, tls_key = settings.broadcast_tls_cert, settings.broadcast_tls_key
    if settings.broadcast_public_url:
        public = settings.broadcast_public_url
    elif tls_cert is not None:  # the workers terminate TLS themselves
        public = _tls_public_url(settings)
    elif settings.https:  # behind the HTTPS proxy, which routes /broadcast/<name>/ to the worker (DEPLOYMENT.md)
        public = settings.public_url.rstrip("/") + "/broadcast/{name}"
    else:
        public = f"http://{settings.host}:{{port}}"
    return WorkerPlan(
        count=settings.broadcast_workers,
        listen_host=settings.host,
        first_port=settings.broadcast_port,
        public_url=public,
        secret=broadcast_secret(settings),
        allow_origin=settings.public_url.rstrip("/"),
        max_listeners=settings.broadcast_max_listeners,
        chunks=settings.broadcast_chunks,
        tls_cert=str(tls_cert.resolve()) if tls_cert else "",
        tls_key=str(tls_key.resolve()) if tls_key else "",
    )


def external_broadcast_nodes(settings: Settings) -> list[BroadcastNode]:
    """The broadcast nodes Salon does not run, unless the audience tier is WebRTC only."""
    if settings.audience_tier != "broadcast":
        return []
    return [
        BroadcastNode(n.name, n.public_url, n.control_url, n.rtp_host, n.rtp_port) for n in settings.broadcast_nodes
    ]


@asynccontextmanager
async def open_media_plane(settings: Settings) -> AsyncIterator[MediaPlane]:
    async with AsyncExitStack() as stack:
        if settings.managed_janus:
            config = ManagedJanusConfig(
                interface=settings.janus_interface,
                ice_enforce_list=settings.janus_ice_enforce_list,
                nat_1_1_mapping=tuple(str(a) for a in settings.janus_nat_1_1),
                keep_private_host=settings.janus_keep_private_host,
                stun_server=settings.stun_host_port,
            )
            janus = await stack.enter_async_context(ManagedJanus(config_folder(settings.data_dir), config))
            fleet: BroadcastFleet | None = None
            nodes = external_broadcast_nodes(settings)
            if settings.audience_tier == "broadcast" and settings.broadcast_workers > 0:
                plan = worker_plan(settings)

                def restarted(name: str) -> None:
                    if fleet is not None:
                        fleet.forget_node(name)

                nodes = [*await stack.enter_async_context(ManagedBroadcast(plan, on_restart=restarted)), *nodes]
            if nodes:
                fleet = await stack.enter_async_context(
                    BroadcastFleet(nodes, broadcast_secret(settings), max_listeners=settings.broadcast_max_listeners)
                )
            media = JanusMedia(
                janus.url, janus.api_secret, janus.admin_key,
                broadcast=fleet, webrtc_listeners=settings.webrtc_listeners_per_node,
                speaker_mix_listeners=settings.speaker_mix_max_listeners,
            )  # fmt: skip
            await stack.enter_async_context(media)
            yield MediaPlane(media, fleet.origins if fleet else [])
            return
        # External Janus nodes forward (SRTP) to the broadcast nodes on other boxes only: the managed workers'
        # RTP ports are on this box's loopback.
        external = settings.external_janus_nodes
        log.info("using %d external Janus node(s): %s", len(external), ", ".join(n.url for n in external))
        broadcast_nodes = external_broadcast_nodes(settings)
        shared: BroadcastFleet | None = None
        if broadcast_nodes:
            shared = await stack.enter_async_context(
                BroadcastFleet(
                    broadcast_nodes, broadcast_secret(settings), max_listeners=settings.broadcast_max_listeners
                )
            )
        budget = settings.webrtc_listeners_per_node
        media_nodes = [
            JanusMedia(
                n.url, n.api_secret, n.admin_key, broadcast=shared, webrtc_listeners=budget,
                speaker_mix_listeners=settings.speaker_mix_max_listeners,
            )
            for n in external
        ]  # fmt: skip
        origins = shared.origins if shared else []
        if len(media_nodes) == 1:
            yield MediaPlane(await stack.enter_async_context(media_nodes[0]), origins)
        else:
            yield MediaPlane(await stack.enter_async_context(JanusCluster(media_nodes)), origins)


@asynccontextmanager
async def open_janus_media(settings: Settings) -> AsyncIterator[JanusMedia | JanusCluster]:
    """The media port alone (tests that need no broadcast origins)."""
    async with open_media_plane(settings) as plane:
        yield plane.media
