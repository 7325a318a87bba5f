"""The WebSocket protocol ``salon serve`` runs: uvicorn's own, plus a direct frame writer offered to the app."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from salon.web.ws_server import FRAMES_EXTENSION, UVICORN_WS_OPTIONS, encode_text_frame

TIMEOUT = 10


def test_encoded_frames_are_what_websockets_itself_would_send() -> None:
    for size in (0, 10, 125, 126, 65535, 65536, 70000):
        text = "é" * (size // 2) + "x" * (size % 2)
        wire = encode_text_frame(text)
        payload = text.encode()
        assert wire.endswith(payload)
        assert wire[0] == 0x81, "FIN + text opcode, no compression bit"
        header = len(wire) - len(payload)
        assert header == (2 if len(payload) < 126 else 4 if len(payload) < 65536 else 10)
        assert wire[1] & 0x80 == 0, "server frames are not masked"


async def test_the_app_gets_a_writer_that_writes_until_the_close() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        writer = scope["extensions"][FRAMES_EXTENSION]
        seen["before_accept"] = writer.write_now(encode_text_frame("too early"))
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        seen["first"] = writer.write_now(encode_text_frame("direct one"))
        await writer.write(encode_text_frame("direct two"))
        await send({"type": "websocket.send", "text": "through ASGI"})
        await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
        seen["after_close"] = writer.write_now(encode_text_frame("too late"))
        try:
            await writer.write(encode_text_frame("too late"))
        except ConnectionError:
            seen["write_after_close"] = "refused"

    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", **UVICORN_WS_OPTIONS)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn stopped before it started"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        received: list[str] = []
        async with asyncio.timeout(TIMEOUT):
            async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        received.append(str(await ws.recv()))
                assert ws.close_code == 4000
        assert received == ["direct one", "direct two", "through ASGI"], "in the order written, nothing after close"
        assert seen == {"before_accept": False, "first": True, "after_close": False, "write_after_close": "refused"}
    finally:
        server.should_exit = True
        await task
