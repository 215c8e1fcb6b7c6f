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
import os
import random
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from uvloop.loop import TCPTransport  # type: ignore[attr-defined]  # not in uvloop's stubs
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.protocol import Protocol
from websockets.server import ServerProtocol

from api.http_protocol import CoalescingTransport
from api.inbox import Inbox
from api.ticker import Ticker, Tickers

# What ``uvicorn.run(ws=...)`` takes to serve with it.
WS_PROTOCOL = "api.ws_protocol:FanoutWebSocketProtocol"
# The ASGI scope extension under which the app finds the connection's RawWebSocket.
EXTENSION = "newsfacts.raw_websocket"
WINDOW_BITS = 10
# Asked as a queued frame leaves: True once what it shows was recalled since it was rendered.
Stale = Callable[[], bool] | None


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

        self.raw: RawWebSocket | None = None
        self.queue = Inbox()  # type: ignore[assignment]  # uvicorn's incoming messages, lighter
        # One timer per interval for every connection of the server (api/ticker.py), instead of a
        # ping timer and a pong deadline timer each.
        tickers = getattr(server_state, "newsfacts_tickers", None)
        if tickers is None:
            tickers = Tickers(self.loop)
            server_state.newsfacts_tickers = tickers  # type: ignore[attr-defined]
        self.tickers: Tickers = tickers
        self._keepalive: Ticker | None = None

    def data_received(self, data: bytes) -> None:
        fresh = not self.handshake_initiated
        super().data_received(data)
        if fresh and self.handshake_initiated and not self.handshake_complete:
            response = getattr(self, "response", None)
            if response is not None and response.status_code == 101:
                self._restart_parser(data)

    def _restart_parser(self, data: bytes) -> None:
        # websockets' server parser is one generator that parsed the handshake request and goes on
        # parsing frames in the same frame, so the request (its header table) lives as long as the
        # connection. A fresh frame parser holds nothing, and is the same parser when nothing after
        # the request was read: a client must wait for our 101 before it sends (RFC 6455 4.1), so
        # this holds unless one did not, and then the old parser simply stays.
        conn = self.conn
        if conn.reader.buffer or not data.endswith(b"\r\n\r\n"):
            return
        conn.parser = Protocol.parse(conn)
        next(conn.parser)

    # Keepalive on the shared ticker: a ping each interval; an unanswered ping found on a later
    # tick, once ``ping_timeout`` has passed, ends the connection (uvicorn's keepalive_timeout).
    def start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            self._keepalive = self.tickers.every(self.ping_interval)
            self._keepalive.add(self)

    def stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.discard(self)
            self._keepalive = None
        super().stop_keepalive()

    def schedule_ping(self) -> None:
        pass  # the ticker pings

    def tick(self) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        if self.pending_ping_payload is not None:
            if self.ping_timeout is not None and self.loop.time() - self.ping_sent_at >= self.ping_timeout:
                self.keepalive_timeout()
            return
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "request", None) is not None:
            # The handshake's request and response objects (two header tables) are not needed
            # once it is done: a tenth of an idle connection's memory. Nor is the scope's header
            # list: the app reads headers before it accepts (auth comes in connection_init).
            self.request = self.response = None  # type: ignore[assignment]
            self.scope["headers"] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Paused as soon as the kernel leaves anything unsent, resumed once it took it all: frames
        # wait in RawWebSocket's queue, where the recall rules can still hold them back, rather
        # than in the transport's buffer, from where they would leave whatever happened since.
        self.transport.set_write_buffer_limits(high=0)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            self.raw = RawWebSocket(self)
            cast(dict[str, Any], scope["extensions"])[EXTENSION] = self.raw

    # RawWebSocket reads a flag of its own, not ``writable.is_set()``: a fan-out asks it of every
    # connection for every event.
    def pause_writing(self) -> None:
        super().pause_writing()
        if self.raw is not None:
            self.raw.paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        raw = self.raw
        if raw is not None:
            raw.paused = False
            raw.drain()


class RawWebSocket:
    """The app's handle on one connection for frames encoded once for many (api/events/fanout.py).

    Sending is synchronous: no task, no ASGI message. While the kernel takes what is written, frames
    go straight to the transport; once it does not (a slow reader: the transport's buffer is not
    empty, flow control paused us), they wait in a queue of at most ``limit``, each leaving only
    if its ``stale`` check (the recall rules) still passes as it leaves — a frame waiting here when
    its object is recalled is never sent. Over the bound, or on a stale frame, the connection is
    closed with ``code`` and a reason: the client resumes from its cursor and loses nothing.

    A fan-out calls ``send_shared`` for each of thousands of connections per event, so its path is a
    few attribute reads and one ``write`` on the connection's own transport: under ``newsfacts serve``
    the protocol's transport is api/http_protocol.py's CoalescingTransport, which would hold each
    frame for a loop callback of its own (a tenth of a delivery's CPU, for nothing to coalesce);
    its ``inner`` transport is written to directly, unless something the protocol wrote this turn
    is still held there (then behind it, through the wrapper: the order on the wire holds)."""

    __slots__ = (
        "_coalescing", "_fd", "_is_closing", "_pending", "_protocol", "_write", "carried", "code", "limit",
        "paused", "slow_reason", "stale_reason", "tickers",
    )  # fmt: skip

    def __init__(self, protocol: FanoutWebSocketProtocol) -> None:
        self._protocol = protocol
        self.tickers = protocol.tickers  # the server's shared timers, for the app's keepalive
        self._pending: deque[tuple[bytes, Stale]] | None = None
        transport = protocol.transport
        inner = getattr(transport, "inner", None)  # a CoalescingTransport's (api/http_protocol.py)
        self._coalescing = cast(CoalescingTransport, transport) if inner is not None else None
        direct = inner if inner is not None else transport
        self._write: Callable[[bytes], None] = direct.write
        self._is_closing: Callable[[], bool] = direct.is_closing
        # The socket's descriptor when the transport is uvloop's plain TCP one (no TLS in between),
        # else -1: see ``_put``.
        self._fd = direct.get_extra_info("socket").fileno() if type(direct) is TCPTransport else -1
        # Flow control's state (the protocol's pause_writing/resume_writing keep it); paused too if
        # the transport holds anything already, so nothing is written past it.
        self.paused = not protocol.writable.is_set() or direct.get_write_buffer_size() > 0
        # A shared subscription's frame was sent since the app's keepalive last looked (it then
        # needs no ping: api/graphql/ws.py Connection.tick).
        self.carried = False
        self.limit = 10_000
        self.code = 1013
        self.slow_reason = "client too slow"
        self.stale_reason = "a queued message was recalled"

    @property
    def open(self) -> bool:
        p = self._protocol
        return p.handshake_complete and not p.close_sent and not p.disconnected and p.initial_response is None

    @property
    def backlog(self) -> int:
        """Frames waiting for the reader."""
        return len(self._pending) if self._pending is not None else 0

    def send(self, frames: bytes, stale: Stale = None, checked: bool = False) -> None:
        """Send whole frames (``text_frame``); nothing once the connection is closing.
        ``checked``: ``stale`` was asked just now (once for every connection of a fan-out)."""
        p = self._protocol
        if p.close_sent or p.disconnected:
            return  # open otherwise: the app has this object only after the handshake
        if self._pending is None and not self.paused:
            if stale is not None and not checked and stale():
                self.close(self.code, self.stale_reason)
                return
            self._put(frames)
            return
        if self._pending is None:
            self._pending = deque()
        elif len(self._pending) >= self.limit:
            self.close(self.code, self.slow_reason)
            return
        self._pending.append((frames, stale))

    def send_shared(self, frames: list[tuple[bytes, bytes, Stale]], wire: bytes, checked: bool) -> None:
        """A shared subscription member's send (api/graphql/shared.py ``Send``): ``wire`` (the
        frames as WebSocket bytes, joined, encoded once for every member) in one write, as ``send``
        would, with its common case inline: called for each member for each event, one Python call
        is a tenth of the work. A slow reader queues each frame on its own, so its bound and each
        frame's staleness check hold as for ``send``."""
        p = self._protocol
        if p.close_sent or p.disconnected:
            return
        self.carried = True
        if self._pending is None and not self.paused and checked:
            coalescing = self._coalescing
            fd = self._fd
            if (coalescing is None or coalescing.held is None) and fd >= 0 and not self._is_closing():
                try:  # as _put does, inline
                    sent = os.write(fd, wire)
                except OSError:
                    sent = 0
                if sent != len(wire):
                    self._rest(frames, wire, sent)
                return
            for _, one, stale in frames:
                self.send(one, stale, True)
            return
        for _, one, stale in frames:
            self.send(one, stale, checked)

    def _rest(self, frames: list[tuple[bytes, bytes, Stale]], wire: bytes, sent: int) -> None:
        """What the kernel left of joined frames: the rest of the frame it stopped in goes to the
        transport (which pauses us), each later frame waits in the queue with its own staleness
        check, as if written one by one: the transport's buffer is never asked again, so a frame
        recalled while it waits there would be sent."""
        end = 0
        for i, (_, one, _) in enumerate(frames):
            end += len(one)
            if end > sent:
                self._write(wire[sent:end])
                for _, later, stale in frames[i + 1 :]:
                    self.send(later, stale, True)
                return

    def _put(self, frames: bytes) -> None:
        coalescing = self._coalescing
        if coalescing is not None and coalescing.held is not None:
            coalescing.write(frames)  # behind what the protocol wrote this turn
            return
        if self._is_closing():
            return  # closing or closed: the descriptor may be gone, and nothing may follow a close
        fd = self._fd
        if fd >= 0:
            # Straight to the socket: uvloop's write path (its buffer list, libuv's try-write, the
            # flow control bookkeeping) costs about half a microsecond for what is one write(2).
            # Safe while nothing is buffered in the transport, which holds whenever flow control
            # has not paused us (the buffer limit is 0), the only time this is called; what the
            # kernel does not take goes to the transport, which buffers it and pauses us.
            try:
                sent = os.write(fd, frames)
            except OSError:  # would block; or reset, broken pipe: the transport meets it and closes
                sent = 0
            if sent == len(frames):
                return
            frames = frames[sent:]
        self._write(frames)  # at once (the buffer limit is 0): what the kernel leaves pauses us

    def drain(self) -> None:
        """The kernel took everything written: send what waited, until it stops taking again."""
        pending = self._pending
        if pending is None:
            return
        if self._coalescing is not None:
            self._coalescing.flush()  # what the protocol holds goes first; each frame then goes at once
        while pending and not self.paused and self.open:
            frames, stale = pending.popleft()
            if stale is not None and stale():
                self.close(self.code, self.stale_reason)
                return
            self._put(frames)  # what the kernel does not take pauses us, and the rest stays checkable here
        if not pending:
            self._pending = None

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake now, behind what the transport holds, dropping what waits
        here (what the ASGI ``websocket.close`` message does, without a task to send it)."""
        p = self._protocol
        self._pending = None
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
