"""The floor bench/bench_events.py compares fan-out against: a bare Starlette app under uvicorn
(uvloop, httptools, uvicorn's default WebSocket protocol) that speaks just enough
graphql-transport-ws for the bench's clients (ack the init, take the subscribe) and, on
``POST /broadcast``, sends frames shaped and sized like newsfacts' ``events`` frames to every
socket with ``await websocket.send_text`` — what an application on this stack does without
newsfacts' fan-out path. Run by the bench:
``python -m uvicorn bench.bare_broadcast:app --loop uvloop --http httptools --port N``."""

from __future__ import annotations

import asyncio
import time

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

sockets: set[WebSocket] = set()


async def subscriber(ws: WebSocket) -> None:
    await ws.accept(subprotocol="graphql-transport-ws")
    try:
        await ws.receive_text()  # connection_init
        await ws.send_text('{"type":"connection_ack"}')
        await ws.receive_text()  # subscribe
        sockets.add(ws)
        while True:
            await ws.receive_text()  # pongs
    except WebSocketDisconnect:
        pass
    finally:
        sockets.discard(ws)


async def broadcast(request: Request) -> Response:
    """Body: {"ids": [...], "rate": per second}. One frame per id, to every socket, at the rate."""
    body = orjson.loads(await request.body())
    ids, rate = body["ids"], float(body["rate"])
    start = time.perf_counter()
    for i, object_id in enumerate(ids):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        events = {"events": {"sequence": i + 1, "objectId": object_id}}
        text = orjson.dumps({"type": "next", "id": "1", "payload": {"data": events}}).decode()
        for ws in list(sockets):
            try:
                await ws.send_text(text)
            except Exception:
                sockets.discard(ws)
    return Response(status_code=204)


async def healthz(request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        WebSocketRoute("/graphql", subscriber),
        Route("/broadcast", broadcast, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
