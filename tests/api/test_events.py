"""/v1/events and the SSE stream on one server: listing after a cursor with filters, refusal of bad
parameters, live delivery, heartbeats, and resuming with Last-Event-ID without loss or duplicates."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.settings import Settings
from tests.api.live_events import SSEReader, api_key, create_actor, last_sequence
from tests.services import LiveServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


async def test_list_after_cursor_filters_by_type_and_object(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        start = await last_sequence(client, server.url)
        a = await create_actor(client, server.url, write_key)
        b = await create_actor(client, server.url, write_key)
        await client.patch(
            f"/v1/actors/{a['id']}", json={"description": "d"}, headers={"Authorization": f"Bearer {write_key}"}
        )
        page = (await client.get("/v1/events", params={"after": start})).json()
        mine = [e for e in page["data"] if e["objectId"] in (a["id"], b["id"])]
        assert [(e["type"], e["objectId"]) for e in mine] == [
            ("actor.created", a["id"]),
            ("actor.created", b["id"]),
            ("actor.updated", a["id"]),
        ]
        sequences = [e["sequence"] for e in page["data"]]
        assert sequences == sorted(sequences) and sequences[0] > start
        only_a = (await client.get("/v1/events", params={"after": start, "objectId": a["id"]})).json()["data"]
        assert [e["type"] for e in only_a] == ["actor.created", "actor.updated"]
        updates = (await client.get("/v1/events", params={"after": start, "type": "actor.updated"})).json()["data"]
        assert {e["objectId"] for e in updates} >= {a["id"]} and all(e["type"] == "actor.updated" for e in updates)
        paged = (await client.get("/v1/events", params={"after": start, "limit": 1})).json()
        assert len(paged["data"]) == 1 and paged["hasMore"] and paged["nextAfter"] == paged["data"][0]["sequence"]


async def test_bad_parameters_are_named(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.get("/v1/events", params={"after": "x", "type": "claim.exploded", "colour": "red"})
        assert response.status_code == 400
        params = {e["parameter"] for e in response.json()["errors"]}
        assert params == {"after", "type", "colour"}
        stream = await client.get("/v1/events/stream", params={"limit": "0"})
        assert stream.status_code == 400 and stream.json()["errors"][0]["parameter"] == "limit"


async def test_sse_with_a_limit_ends_after_that_many_events(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        start = await last_sequence(client, server.url)
        made = [await create_actor(client, server.url, write_key) for _ in range(3)]
        # The whole response: it ends by itself after two events, with no heartbeat to wait for.
        r = await client.get("/v1/events/stream", params={"after": start, "type": "actor.created", "limit": 2})
        frames = [f for f in r.text.split("\n\n") if f.startswith("id: ")]
        assert [f.split("\n")[0] for f in frames] == [f"id: {start + 1}", f"id: {start + 2}"]
        assert made[1]["id"] in frames[1] and made[2]["id"] not in r.text


async def test_a_head_of_the_stream_answers_its_headers_and_ends(server: LiveServer) -> None:
    """A HEAD has no body, so the stream's loop would never end it: it held its connection (the
    next request on it never answered) and its task outlived the client."""
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        for params in ({}, {"after": "0"}):
            r = await client.head("/v1/events/stream", params=params)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            assert r.content == b""
        # The same connection serves the next request at once.
        assert (await client.get("/healthz")).status_code == 200


async def test_sse_delivers_live_then_resumes_with_last_event_id(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        url = f"{server.url}/v1/events/stream?type=actor.created"
        async with SSEReader(client, url) as live:
            first = await create_actor(client, server.url, write_key)
            events = await live.wait_for(1)
            assert events[0]["objectId"] == first["id"] and events[0]["type"] == "actor.created"
            cursor = events[0]["sequence"]
        missed = [await create_actor(client, server.url, write_key) for _ in range(3)]
        async with SSEReader(client, url, headers={"Last-Event-ID": str(cursor)}) as resumed:
            late = await create_actor(client, server.url, write_key)
            got = await resumed.wait_for(4)
            assert [e["objectId"] for e in got] == [m["id"] for m in missed] + [late["id"]]
            await asyncio.sleep(0.3)
            assert len(resumed.events) == 4, "no duplicates at the seam"


async def test_sse_sends_heartbeats(settings: Settings, write_key: str) -> None:
    from dataclasses import replace

    fast = LiveServer(replace(settings, event_heartbeat_seconds=1)).start()
    try:
        async with httpx.AsyncClient(timeout=10) as client, SSEReader(client, f"{fast.url}/v1/events/stream") as r:
            for _ in range(40):
                if r.heartbeats >= 2:
                    break
                await asyncio.sleep(0.1)
            assert r.heartbeats >= 2
    finally:
        fast.stop()


async def test_cursor_older_than_retention_is_410(server: LiveServer) -> None:
    from db.pool import connect

    conn = await connect(server.settings.database_url or "")
    columns = "sequence, id, type, object_type, object_id, object_version, data, created_at"
    try:
        rows = await conn.fetch(f"SELECT {columns} FROM events ORDER BY sequence LIMIT 2")
        assert len(rows) == 2
        # What retention pruning does to the oldest events, undone below.
        await conn.execute("DELETE FROM events WHERE sequence = ANY($1::bigint[])", [r["sequence"] for r in rows])
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                expired = await client.get("/v1/events", params={"after": rows[0]["sequence"]})
                from_start = await client.get("/v1/events", params={"after": 0, "limit": 1})
        finally:
            await conn.executemany(
                f"INSERT INTO events ({columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [tuple(r) for r in rows]
            )
    finally:
        await conn.close()
    assert expired.status_code == 410 and expired.json()["code"] == "CURSOR_EXPIRED", expired.text
    assert from_start.status_code == 200 and from_start.json()["data"][0]["sequence"] > rows[1]["sequence"]
