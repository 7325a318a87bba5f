"""Adapters layer: the media plane ``salon serve`` runs on — a managed Janus child process, or external Janus nodes.

``open_janus_media(settings)`` is what the app's lifespan enters: with no ``SALON_JANUS_URL`` it starts a
``ManagedJanus`` in ``<data_dir>/janus`` (locked-down config, supervised, restarted if it dies) and connects a
``JanusMedia`` to it; with one it connects to that node. Leaving stops both. A restarted Janus needs nothing from
here: ``JanusMedia`` notices the lost session and emits ``media_reset``; the app re-creates the live rooms.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from salon.adapters.janus.config import ManagedJanusConfig, config_folder
from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.process import ManagedJanus
from salon.app.settings import Settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_janus_media(settings: Settings) -> AsyncIterator[JanusMedia]:
    async with AsyncExitStack() as stack:
        if settings.managed_janus:
            config = ManagedJanusConfig(
                interface=settings.janus_interface, ice_enforce_list=settings.janus_ice_enforce_list
            )
            janus = await stack.enter_async_context(ManagedJanus(config_folder(settings.data_dir), config))
            url, api_secret, admin_key = janus.url, janus.api_secret, janus.admin_key
        else:
            url, api_secret, admin_key = settings.janus_url, settings.janus_api_secret, settings.janus_admin_key
            log.info("using the external Janus at %s", url)
        yield await stack.enter_async_context(JanusMedia(url, api_secret, admin_key))
