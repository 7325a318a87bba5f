"""Web layer: the WebSocket protocol ``salon serve`` gives uvicorn — its sans-I/O one, plus a direct frame writer.

A room event goes to every subscriber as the same bytes: server-to-client frames are not masked, and Salon does not
compress them. Through ASGI each send would be re-encoded and pass three layers and a task per client; this
protocol offers the app, as the ASGI extension ``salon.frames``, a ``FrameWriter`` that puts a frame encoded once
straight on the socket's transport. The hub uses it when the socket can take the frame at once and falls back to
its queue and ASGI ``send`` otherwise (see ``web/hub.py``). Everything else — the handshake, keepalive pings,
receiving, closing — is uvicorn's own code.

A frame written here bypasses the ``websockets`` protocol object, which is sound because sending an unfragmented
data frame changes none of its state; closing does, so the writer refuses frames once a close was sent or the
connection is going away. It bypasses the transport's buffer only while that buffer is empty, so bytes reach the
socket in the order they were written.
"""

from __future__ import annotations

import os
from typing import Any, Final

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

FRAMES_EXTENSION: Final = "salon.frames"
PROTOCOL_PATH: Final = "salon.web.ws_server:SalonWebSocketProtocol"
# How every Salon server runs its WebSockets (`salon serve`, and the tests' live server). Not compressed: a room
# event is one encoding shared by every subscriber, where permessage-deflate would compress it once per client.
# uvicorn's proxy headers off: it would believe X-Forwarded-For from any peer on 127.0.0.1 and overwrite the peer's
# address; Salon decides itself, from SALON_TRUSTED_PROXIES (web/client_address.py).
UVICORN_WS_OPTIONS: Final[dict[str, Any]] = {
    "ws": PROTOCOL_PATH,
    "ws_max_size": 65536,
    "ws_per_message_deflate": False,
    "proxy_headers": False,
}


def encode_text_frame(text: str) -> bytes:
    """The whole wire frame of one unfragmented, uncompressed text message from the server (unmasked)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FrameWriter:
    """Writes encoded frames to one socket without awaiting: what the hub holds for a connection.

    On a plain (not TLS) socket whose transport has nothing buffered, the frame goes to the kernel with one
    ``os.write`` right away. Through ``transport.write`` uvloop would only buffer it and send it at the end of the
    loop's iteration, so in a fan-out no client would get anything before the last one was served; written at once,
    the first clients read while the server still writes to the others. Whatever the kernel does not take at once
    (and every frame while the transport holds data, so nothing overtakes it) goes through the transport.
    """

    __slots__ = ("_fd", "_protocol")

    def __init__(self, protocol: SalonWebSocketProtocol) -> None:
        self._protocol = protocol
        transport = protocol.transport
        sock = transport.get_extra_info("socket")
        plain = sock is not None and transport.get_extra_info("sslcontext") is None
        self._fd: int = sock.fileno() if plain else -1

    def write_now(self, wire: bytes) -> bool:
        """Write the frame if the socket is open and its buffer below the high-water mark; False otherwise."""
        p = self._protocol
        if p.close_sent or p.disconnected or not p.handshake_complete or not p.writable.is_set():
            return False
        transport = p.transport
        if transport.is_closing():
            return False
        if self._fd >= 0 and not transport.get_write_buffer_size():
            try:
                sent = os.write(self._fd, wire)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:  # reset or broken: the connection is going away, and uvicorn's side will see it
                return False
            if sent == len(wire):
                return True
            wire = wire[sent:]
        transport.write(wire)
        return True

    async def write(self, wire: bytes) -> None:
        """Write the frame once the socket's buffer has drained; ConnectionError if the socket is going away."""
        await self._protocol.writable.wait()
        if not self.write_now(wire):
            raise ConnectionError("the WebSocket is closing")


class SalonWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, announcing a ``FrameWriter`` in the ASGI scope's extensions."""

    def handle_connect(self, event: object) -> None:
        super().handle_connect(event)  # type: ignore[arg-type]
        scope = getattr(self, "scope", None)
        # Absent when the handshake was refused before any scope was built; the ASGI task has not started yet.
        if scope is not None:
            scope["extensions"][FRAMES_EXTENSION] = FrameWriter(self)
