"""The WebSocket protocol ``newsfacts serve`` runs uvicorn with: uvicorn's sans-I/O websockets
protocol, plus a way for the app to write frames it encoded once for many connections straight to
each connection's transport (api/events/fanout.py), and permessage-deflate that keeps no state
between messages.

Fan-out is the reason. Through ASGI, one event sent to N subscribers costs N ``websocket.send``
messages, N framings (and N compressions when permessage-deflate was negotiated) and N task
switches, at about 28 us each: the floor of a bare Starlette broadcast. Here the app encodes an
event's frame once and writes the same bytes to every subscriber's transport (one ``write`` each,
no task), which RFC 6455 allows as long as whole frames are written between the protocol's own.
Frames written this way are sent uncompressed, which RFC 7692 also allows on a connection that
negotiated compression (the Per-Message Compressed bit stays unset).

Memory is the other: an idle subscriber should cost a few KiB. With context takeover, a connection
keeps a zlib compressor (tens of KiB) and decompressor (a window) for its lifetime; here both
directions start afresh with each message (``server_no_context_takeover`` and
``client_no_context_takeover``, which a server may require), with small windows, so an idle
connection holds no zlib state at all. Our messages are small JSON: context takeover bought little."""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol

# What ``uvicorn.run(ws=...)`` takes to serve with it.
WS_PROTOCOL = "api.ws_protocol:FanoutWebSocketProtocol"
# The ASGI scope extension under which the app finds the connection's RawWebSocket.
EXTENSION = "newsfacts.raw_websocket"
WINDOW_BITS = 10


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame (server to client) carrying ``payload`` (UTF-8 JSON)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65_536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O protocol with stateless compression and a RawWebSocket in the scope."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if config.ws_per_message_deflate:
            deflate = ServerPerMessageDeflateFactory(
                server_no_context_takeover=True,
                client_no_context_takeover=True,
                server_max_window_bits=WINDOW_BITS,
                client_max_window_bits=WINDOW_BITS,
                compress_settings={"memLevel": 1},
            )
            self.conn = ServerProtocol(
                extensions=[deflate], max_size=config.ws_max_size, logger=logging.getLogger("uvicorn.error")
            )

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            cast(dict[str, Any], scope["extensions"])[EXTENSION] = RawWebSocket(self)


class RawWebSocket:
    """The app's handle on one connection for frames encoded once for many (api/events/fanout.py).
    Writes are synchronous: no task, no ASGI message; the transport's buffer is the backlog."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: FanoutWebSocketProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        p = self._protocol
        return p.handshake_complete and not p.close_sent and not p.disconnected and p.initial_response is None

    def write(self, frames: bytes) -> None:
        """Write whole frames (``text_frame``); nothing once the connection is closing."""
        if self.open:
            self._protocol.transport.write(frames)

    def backlog(self) -> int:
        """Bytes written but not yet taken by the kernel: how far the reader is behind."""
        transport = self._protocol.transport
        pending = getattr(transport, "pending_size", None)
        return int(pending() if pending is not None else transport.get_write_buffer_size())

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake now, behind what is already written (what the ASGI
        ``websocket.close`` message does, without waiting for a task to send it)."""
        p = self._protocol
        if not self.open or p.transport.is_closing():
            return
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        p.conn.send_close(code, reason)
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        # A reader too slow to take even the close frame is cut, its backlog dropped, once the
        # protocol's timeout ends (close() would wait for the backlog to drain, maybe forever).
        p.close_timer = p.loop.call_later(p.close_timeout, p.transport.abort)
