"""Adapters layer: the media plane ``salon serve`` runs on — a managed Janus child process, or external Janus nodes.

``open_janus_media(settings)`` is what the app's lifespan enters. With no external node configured it starts a
``ManagedJanus`` in ``<data_dir>/janus`` (locked-down config, supervised, restarted if it dies) and connects a
``JanusMedia`` to it; with one node it connects to that node; with several it spreads rooms over them
(``JanusCluster``). Leaving stops everything. A restarted Janus needs nothing from here: ``JanusMedia`` notices the
lost session and emits ``media_reset``; the app re-creates the live rooms.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from salon.adapters.janus.cluster import JanusCluster
from salon.adapters.janus.config import ManagedJanusConfig, config_folder
from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.process import ManagedJanus
from salon.app.settings import Settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_janus_media(settings: Settings) -> AsyncIterator[JanusMedia | JanusCluster]:
    async with AsyncExitStack() as stack:
        if settings.managed_janus:
            config = ManagedJanusConfig(
                interface=settings.janus_interface, ice_enforce_list=settings.janus_ice_enforce_list
            )
            janus = await stack.enter_async_context(ManagedJanus(config_folder(settings.data_dir), config))
            yield await stack.enter_async_context(JanusMedia(janus.url, janus.api_secret, janus.admin_key))
            return
        nodes = settings.external_janus_nodes
        log.info("using %d external Janus node(s): %s", len(nodes), ", ".join(n.url for n in nodes))
        media = [JanusMedia(n.url, n.api_secret, n.admin_key) for n in nodes]
        if len(media) == 1:
            yield await stack.enter_async_context(media[0])
        else:
            yield await stack.enter_async_context(JanusCluster(media))
