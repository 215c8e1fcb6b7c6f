"""Fan-out over real sockets (api/ws_protocol.py, api/graphql/shared.py, api/rest/events.py): frames
encoded once reach WebSocket and SSE clients of each scope in that scope's form, byte for byte the
same for members of one shared subscription; a reader too slow for its bound is closed with a
reason and resumes losslessly; ping, pong, complete and close keep working on the raw path; the
keepalive pings only a connection that events left quiet for an interval."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from api.graphql import ws as graphql_ws_module
from api.settings import Settings
from db import writes
from db.pool import connect
from tests.api.live_events import SSEReader, api_key, bearer, graphql_ws, next_message
from tests.api.test_events_recall import HELD_BODY, StalledClient, patch, post
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

ARTICLES = """subscription { events(types: [ARTICLE_CREATED, ARTICLE_WITHHELD]) {
  sequence type objectId fact { ... on Article { headline body } } } }"""
ACTORS = "subscription { events(types: [ACTOR_CREATED]) { sequence objectId } }"


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[LiveServer]:
    # A heartbeat of 1 s, so the server's graphql-transport-ws ping shows within a test. No
    # WebSocket keepalive: the stalled reader answers no ping, and on a loaded machine its filling
    # took longer than uvicorn's 20 s ping timeout, which closed it (1011) before its bound (1013).
    server = LiveServer(dataclasses.replace(settings, event_heartbeat_seconds=1), ws_ping_interval=None).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


async def _raw_next(ws: Any, n: int) -> list[str]:
    """The next ``n`` ``next`` frames as received (text), pings answered."""
    frames: list[str] = []
    while len(frames) < n:
        raw = await asyncio.wait_for(ws.recv(), 15)
        message = json.loads(raw)
        if message["type"] == "ping":
            await ws.send('{"type":"pong"}')
        elif message["type"] == "next":
            frames.append(raw)
        else:
            raise AssertionError(message)
    return frames


async def test_websocket_and_sse_clients_of_each_scope_get_the_same_events_in_their_scopes_form(
    live: LiveServer, write_key: str
) -> None:
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": ARTICLES}}
    stream = "/v1/events/stream?type=article.created,article.withheld"
    async with (
        httpx.AsyncClient(base_url=live.url, timeout=15) as client,
        graphql_ws(live.url) as public_a,
        graphql_ws(live.url) as public_b,
        graphql_ws(live.url, write_key) as full,
        SSEReader(client, stream) as sse_public,
        SSEReader(client, stream, headers=bearer(write_key)) as sse_full,
    ):
        for ws in (public_a, public_b, full):
            await ws.send(json.dumps(subscribe))
        await asyncio.sleep(0.3)  # the subscriptions have joined before the writes
        article = await post(
            client, "/v1/articles", {"uri": "urn:test:fanout-1", "headline": "Held", "body": HELD_BODY}, write_key
        )
        created = await asyncio.gather(_raw_next(public_a, 1), _raw_next(public_b, 1), _raw_next(full, 1))
        await sse_public.wait_for(1)
        await sse_full.wait_for(1)
        # Withheld once every client has the creation: a creation frame still on its way when the
        # article is withheld is not sent, the connection is closed for a resume instead (1013,
        # tests/api/test_events_recall.py), which is not what this test looks at.
        await patch(client, f"/v1/articles/{article['id']}", {"pubStatus": "withheld"}, write_key)
        withheld = await asyncio.gather(_raw_next(public_a, 1), _raw_next(public_b, 1), _raw_next(full, 1))
        a, b, f = (c + w for c, w in zip(created, withheld, strict=True))
        # One shared execution per scope, one encoding per frame: the public members' bytes agree.
        assert a == b
        ws_public = [json.loads(x)["payload"]["data"]["events"] for x in a]
        ws_full = [json.loads(x)["payload"]["data"]["events"] for x in f]
        sse_pub = await sse_public.wait_for(2)
        sse_all = await sse_full.wait_for(2)

    def shape(events: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        return [(e["sequence"], e["type"].lower().replace("_", "."), e["objectId"]) for e in events]

    assert shape(ws_public) == shape(ws_full) == shape(sse_pub) == shape(sse_all)
    assert [e["type"] for e in sse_pub] == ["article.created", "article.withheld"]
    # The withheld event: its public form carries no text, in both channels; its full form does.
    assert ws_full[1]["fact"]["body"] == HELD_BODY and sse_all[1]["data"]["body"] == HELD_BODY
    assert ws_public[1]["fact"] is None or ws_public[1]["fact"]["body"] is None
    assert HELD_BODY not in json.dumps(sse_pub[1]) and HELD_BODY not in json.dumps(ws_public[1])


async def test_a_reader_over_its_bound_is_closed_with_a_reason_and_resumes_without_a_gap(
    live: LiveServer, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Frames of 25 copies of a 100 KB body fill the stalled client's socket buffers after a couple;
    # the rest wait in the connection's queue, bounded here at 3 frames.
    monkeypatch.setattr(graphql_ws_module, "OUTBOX_LIMIT", 3)
    bodies = " ".join(f"b{i}: body" for i in range(25))
    query = f"""subscription($after: Int) {{ events(types: [ARTICLE_CREATED], after: $after) {{
      sequence objectId fact {{ ... on Article {{ {bodies} }} }} }} }}"""
    filler = ("Harbour traffic was normal again. " * 3000)[:100_000]
    slow = StalledClient(live.port)
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=15) as client:
            slow.send({"type": "connection_init", "payload": {}})
            assert json.loads(slow.receive()[1])["type"] == "connection_ack"
            slow.send({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": None}}})
            await asyncio.sleep(0.3)
            written = []
            for i in range(10):
                doc = await post(
                    client, "/v1/articles", {"uri": f"urn:test:slow-{i}", "headline": "F", "body": filler}, write_key
                )
                written.append(doc["id"])

            frames, code, reason = await asyncio.to_thread(slow.until_closed)
            assert code == 1013 and b"too slow" in reason, (code, reason)
            got = [m["payload"]["data"]["events"] for m in map(json.loads, frames) if m["type"] == "next"]
            # What arrived is a prefix of what was written: nothing skipped before the close.
            assert 0 < len(got) < len(written)
            assert [e["objectId"] for e in got] == written[: len(got)]

            async with graphql_ws(live.url, max_size=None) as again:
                await again.send(
                    json.dumps({"id": "r", "type": "subscribe",
                                "payload": {"query": query, "variables": {"after": got[-1]["sequence"]}}})
                )  # fmt: skip
                rest = [
                    json.loads(x)["payload"]["data"]["events"]["objectId"]
                    for x in await _raw_next(again, len(written) - len(got))
                ]
            assert [e["objectId"] for e in got] + rest == written
    finally:
        slow.sock.close()


async def test_ping_pong_complete_and_close_on_the_raw_path(live: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as client, graphql_ws(live.url) as ws:
        # The client's protocol-level ping is answered by the server's WebSocket layer.
        await asyncio.wait_for(await ws.ping(), 5)
        # graphql-transport-ws ping → pong.
        await ws.send('{"type":"ping"}')
        # The server's keepalive ping arrives within the heartbeat (1 s here); on a busy machine it
        # can come before the pong, so the two are read in either order.
        seen = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert sorted(m["type"] for m in seen) == ["ping", "pong"], seen
        assert {"type": "pong"} in seen
        await ws.send('{"type":"pong"}')

        for op in ("a", "b"):
            await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": {"query": ACTORS}}))
        await asyncio.sleep(0.3)
        await post(client, "/v1/actors", {"kind": "person", "name": "First"}, write_key)
        firsts = {(await next_message(ws))["id"] for _ in range(2)}
        assert firsts == {"a", "b"}
        await ws.send('{"id":"a","type":"complete"}')
        await asyncio.sleep(0.3)
        second = await post(client, "/v1/actors", {"kind": "person", "name": "Second"}, write_key)
        message = await next_message(ws)
        assert message["id"] == "b" and message["payload"]["data"]["events"]["objectId"] == second["id"]
        with pytest.raises(TimeoutError):
            await next_message(ws, timeout=1.0)  # nothing more for "a"

        # A protocol error closes with its code and reason, behind what was already sent.
        await ws.send('{"type":"nonsense"}')
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4400 and "nonsense" in (ws.close_reason or "")


async def test_a_subscriber_kept_busy_by_events_gets_no_keepalive_ping_and_a_quiet_one_does(
    live: LiveServer, write_key: str
) -> None:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as client, graphql_ws(live.url) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ACTORS}}))
        await asyncio.sleep(0.3)
        arrivals: list[tuple[float, str]] = []  # (arrival, message type)
        started = loop.time()
        while loop.time() - started < 5:  # five heartbeats (1 s here), an event every few tens of ms
            await post(client, "/v1/actors", {"kind": "person", "name": "Busy"}, write_key)
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 15))
                arrivals.append((loop.time(), message["type"]))
                if message["type"] == "ping":
                    await ws.send('{"type":"pong"}')
                elif message["type"] == "next":
                    break
        # A ping while events flow comes only after a whole interval without one (a slow moment
        # of a loaded machine); the server's tick used to ping every connection every interval.
        for (before, _), (at, kind) in itertools.pairwise(arrivals):
            assert kind != "ping" or at - before >= 0.5, arrivals
        assert sum(kind == "next" for _, kind in arrivals) >= 10, arrivals
        # Once it is quiet, the keepalive pings again.
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert message["type"] == "ping", message


async def test_a_burst_committed_at_once_reaches_every_scope_in_order_each_frame_with_its_own_event(
    live: LiveServer, write_key: str, database_url: str
) -> None:
    # Thirty events in one commit reach the broadcaster together, so a shared subscription reads
    # them as one backlog (schema/plan/live.py renders such a backlog with one statement): each
    # frame must still carry its own event's object and fact, in sequence order.
    query = "subscription { events(types: [ACTOR_CREATED]) { sequence objectId fact { ... on Actor { name } } } }"
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query}}
    async with graphql_ws(live.url) as public, graphql_ws(live.url, write_key) as full:
        for ws in (public, full):
            await ws.send(json.dumps(subscribe))
        await asyncio.sleep(0.3)  # the subscriptions have joined before the writes
        conn = await connect(database_url)
        try:
            async with conn.transaction():
                docs = [
                    await writes.create(conn, "actor", {"kind": "person", "name": f"burst {i}"}, changed_by="test")
                    for i in range(30)
                ]
        finally:
            await conn.close()
        got = await asyncio.gather(_raw_next(public, 30), _raw_next(full, 30))
    expected = [(d["id"], d["name"]) for d in docs]
    for frames in got:
        events = [json.loads(x)["payload"]["data"]["events"] for x in frames]
        assert [(e["objectId"], e["fact"]["name"]) for e in events] == expected
        sequences = [e["sequence"] for e in events]
        assert sequences == sorted(sequences) and len(set(sequences)) == 30
