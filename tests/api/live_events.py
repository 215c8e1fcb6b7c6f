"""Helpers for the write and live-event tests: API keys, REST writes, an SSE reader and a
graphql-transport-ws client, all over real HTTP / WebSocket with bounded waits."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

from db import keys
from db.pool import connect


async def api_key(database_url: str, scope: str) -> str:
    conn = await connect(database_url)
    try:
        _, secret = await keys.create(conn, name=f"test-{scope}", scope=scope)
    finally:
        await conn.close()
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], secret: str) -> dict[str, Any]:
    """A write that must succeed (200 or 201): its answer's document."""
    r = await client.post(path, json=body, headers=bearer(secret))
    assert r.status_code in (200, 201), r.text
    doc: dict[str, Any] = r.json()
    return doc


async def create_actor(client: httpx.AsyncClient, base: str, secret: str, name: str | None = None) -> dict[str, Any]:
    response = await client.post(
        f"{base}/v1/actors",
        json={"kind": "person", "name": name or f"Person {uuid.uuid4().hex[:8]}"},
        headers=bearer(secret),
    )
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def last_sequence(client: httpx.AsyncClient, base: str) -> int:
    """The newest sequence in the log (by paging /v1/events to its end)."""
    after = 0
    while True:
        page = (await client.get(f"{base}/v1/events", params={"after": after, "limit": 1000})).json()
        after = page["nextAfter"]
        if not page["hasMore"]:
            return int(after)


async def event_log(
    client: httpx.AsyncClient, after: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every event after ``after`` through GET /v1/events, page by page, as ``headers`` may see them."""
    found: list[dict[str, Any]] = []
    while True:
        page = (await client.get("/v1/events", params={"after": after, "limit": 200}, headers=headers)).json()
        found += page["data"]
        after = page["nextAfter"]
        if not page["hasMore"]:
            return found


async def log_head(client: httpx.AsyncClient, key: str) -> int:
    """The newest sequence a key sees in the log (0 when it is empty)."""
    events = await event_log(client, 0, bearer(key))
    return int(events[-1]["sequence"]) if events else 0


class SSEReader:
    """Reads ``/v1/events/stream`` and collects events (dicts), heartbeats counted separately."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.url = url
        self.headers = headers or {}
        self.events: list[dict[str, Any]] = []
        self.names: list[str] = []  # each frame's ``event:`` field, in step with ``events``
        self.heartbeats = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with self.client.stream("GET", self.url, headers=self.headers, timeout=30) as response:
            assert response.status_code == 200, await response.aread()
            data: list[str] = []
            name = "message"
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith(": heartbeat"):
                    self.heartbeats += 1
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self.events.append(json.loads("\n".join(data)))
                    self.names.append(name)
                    data, name = [], "message"

    async def __aenter__(self) -> SSEReader:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, httpx.HTTPError):
            pass

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``n`` events arrived (fails after ``timeout`` seconds)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.events) < n:
            if self._task is not None and self._task.done():
                self._task.result()
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"got {len(self.events)} of {n} events within {timeout}s")
            await asyncio.sleep(0.02)
        return self.events


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def graphql_ws(
    base: str, secret: str | None = None, *, payload: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[websockets.ClientConnection]:
    """An acknowledged graphql-transport-ws connection (``options`` go to websockets.connect)."""
    protocol = [websockets.Subprotocol("graphql-transport-ws")]
    async with websockets.connect(ws_url(base), subprotocols=protocol, **options) as ws:
        init = payload if payload is not None else ({"authorization": f"Bearer {secret}"} if secret else {})
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def next_message(ws: websockets.ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next message other than a ping (pings are answered)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message
