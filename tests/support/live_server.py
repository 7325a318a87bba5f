"""Test support: the app served by a real uvicorn server on 127.0.0.1 (a free port), inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from salon.app.services import Services
from salon.web.app import create_app
from salon.web.ws_server import UVICORN_WS_OPTIONS


@asynccontextmanager
async def serve(services: Services) -> AsyncIterator[int]:
    """Serve ``services`` (already built) until the block ends; yields the port."""
    app = create_app(services.settings, services)
    app.state.services = services
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", **UVICORN_WS_OPTIONS
    )  # the WebSocket protocol and options `salon serve` runs
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event for this
        if task.done():
            task.result()  # the server failed to start: show why
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task
