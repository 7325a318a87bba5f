"""Adapters layer: ``open_turn(settings)``, what the app's lifespan enters beside the media plane — the managed
coturn when ``SALON_TURN=managed``, nothing otherwise (an external coturn, or no TURN)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from salon.adapters.turn.config import ManagedTurnConfig
from salon.adapters.turn.process import managed_turn
from salon.app.settings import Settings
from salon.app.turn import public_host, turn_secret


def managed_turn_config(settings: Settings) -> ManagedTurnConfig:
    low, _, high = settings.turn_relay_ports.partition("-")
    return ManagedTurnConfig(
        realm=public_host(settings),
        secret=turn_secret(settings),
        listen_ip=settings.turn_listen_ip,
        port=settings.turn_port,
        min_port=int(low),
        max_port=int(high),
        # The media servers the relay must reach even inside a denied range (Settings.turn_peers).
        allowed_peers=tuple(settings.turn_peers),
        tls_port=settings.turn_tls_port,
        cert=settings.turn_tls_cert.resolve() if settings.turn_tls_cert else None,
        key=settings.turn_tls_key.resolve() if settings.turn_tls_key else None,
    )


@contextlib.asynccontextmanager
async def open_turn(settings: Settings) -> AsyncIterator[None]:
    if settings.turn != "managed":
        yield
        return
    async with managed_turn(managed_turn_config(settings), settings.data_dir / "turn"):
        yield
