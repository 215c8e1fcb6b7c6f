"""The bench's GraphQL WebSocket subscriber: an asyncio protocol that speaks just enough RFC 6455 and
graphql-transport-ws to subscribe and read ``next`` frames, so the clients' CPU is not what the
latency bench measures.

Why not the ``websockets`` library: per message it runs its sans-I/O parser, a frame object, UTF-8
validation, a queue hand-off and a task switch. At 200 subscribers at 200 writes/s that is 40,000
messages a second, more than two Python client processes on a shared 2-core machine could read
(commit-to-delivery grew to seconds while the server was busy a fifth of a core). Here a message
costs a slice of a buffer and one ``orjson.loads``: server-to-client frames are unmasked, and the
client offers no extension, so frames are never compressed."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

import orjson

SUBPROTOCOL = "graphql-transport-ws"


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked frame (client to server must mask, RFC 6455 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return head + mask + masked


class RawSubscriber(asyncio.Protocol):
    """One connection, one subscription; ``on_next(payload)`` for each ``next`` message."""

    def __init__(self, host: str, path: str, query: str, on_next: Callable[[dict[str, object]], None]) -> None:
        self.host, self.path, self.query, self.on_next = host, path, query, on_next
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n".encode()
        )

    def send_json(self, message: dict[str, object]) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(orjson.dumps(message)))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(RuntimeError(bytes(buf[:end]).decode(errors="replace")))
                return
            del buf[: end + 4]
            self.upgraded = True
            self.send_json({"type": "connection_init", "payload": {}})
        pos, n = 0, len(buf)
        while n - pos >= 2:
            opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if n - start < length:
                break
            self._frame(opcode, bytes(buf[start : start + length]))
            pos = start + length
        if pos:
            del buf[:pos]

    def _frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 0x1:
            message = orjson.loads(payload)
            kind = message["type"]
            if kind == "next":
                self.on_next(message["payload"])
            elif kind == "connection_ack":
                self.send_json({"id": "1", "type": "subscribe", "payload": {"query": self.query}})
                if not self.subscribed.done():
                    self.subscribed.set_result(None)
            elif kind == "ping":
                self.send_json({"type": "pong"})
            elif kind in ("error", "complete"):
                self._fail(RuntimeError(payload.decode()))
        elif opcode == 0x9:  # ping
            self.transport.write(client_frame(payload, 0xA))
        elif opcode == 0x8:  # close
            self._fail(RuntimeError(f"closed by the server: {payload[2:].decode(errors='replace')}"))

    def _fail(self, error: Exception) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("connection closed"))


async def subscribe(url: str, query: str, on_next: Callable[[dict[str, object]], None]) -> RawSubscriber:
    """Open ``url`` (ws://host:port/path), subscribe with ``query``; returns once subscribed."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    _, protocol = await loop.create_connection(
        lambda: RawSubscriber(f"{host}:{port}", parts.path or "/", query, on_next), host, port
    )
    await protocol.subscribed
    return protocol
