"""uvicorn's WebSocket keepalive under api/ws_protocol.py runs on the server's shared ticker
(api/ticker.py): a client that answers the protocol pings keeps getting them and stays; one that
does not is closed with 1011 once the ping timeout has passed."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import pytest
import uvicorn

from api.embedded import free_port

pytestmark = pytest.mark.anyio


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def _client(port: int, answer: bool, pings_wanted: int) -> tuple[str, int]:
    """('open', pings) once ``pings_wanted`` pings came, or ('close <code>', pings)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    pings = 0
    try:
        while pings < pings_wanted:
            head = await asyncio.wait_for(reader.readexactly(2), 10)
            n = head[1] & 0x7F
            payload = await reader.readexactly(n)
            opcode = head[0] & 0x0F
            if opcode == 0x9:
                pings += 1
                if answer:
                    mask = os.urandom(4)
                    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
                    writer.write(bytes((0x8A, 0x80 | n)) + mask + masked)
            elif opcode == 0x8:
                return f"close {int.from_bytes(payload[:2], 'big')}", pings
        return "open", pings
    finally:
        writer.close()


async def test_protocol_pings_come_from_the_shared_ticker_and_a_silent_client_is_closed() -> None:
    port = free_port()
    config = uvicorn.Config(
        _echo_app, port=port, ws="api.ws_protocol:FanoutWebSocketProtocol", ws_ping_interval=0.1,
        ws_ping_timeout=0.1, log_level="warning", lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        answering, silent = await asyncio.gather(_client(port, True, 5), _client(port, False, 5))
        assert answering == ("open", 5)
        assert silent == ("close 1011", 1)
    finally:
        server.should_exit = True
        await serving
