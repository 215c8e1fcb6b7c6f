"""GraphQL subscriptions over graphql-transport-ws against the live server: live delivery, resume
with after:, typed filters, auth in connection_init, the subscription cap, and protocol abuse that
closes or errors one connection or operation without disturbing another subscriber."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets

from tests.api.live_events import api_key, bearer, create_actor, graphql_ws, next_message, ws_url
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

MADURO = "act_01K8B1E2G12Z4MP14DZVS18EHJ"
TRUMP = "act_01K8B1E2G23GFA841FH00VS49Q"
ARTICLE = "art_01K8B1E3F9FPCM47JBPJSG0VT9"

EVENTS = """subscription($after: Int, $types: [EventType!]) {
  events(after: $after, types: $types) { sequence type objectId fact { id version ... on Actor { name } } }
}"""


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


async def subscribe(
    ws: Any, op_id: str, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
) -> None:
    payload = {"query": query, "variables": variables or {}, "operationName": operation_name}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def next_event(ws: Any, op_id: str, timeout: float = 10.0) -> dict[str, Any]:
    message = await next_message(ws, timeout)
    assert message["type"] == "next" and message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    data: dict[str, Any] = message["payload"]["data"]
    return data


async def test_events_live_then_resume_after_cursor(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with graphql_ws(server.url) as ws:
            await subscribe(ws, "1", EVENTS, {"types": ["ACTOR_CREATED"]})
            await asyncio.sleep(0.2)  # let the subscription start before the write
            first = await create_actor(client, server.url, write_key)
            got = (await next_event(ws, "1"))["events"]
            assert got["objectId"] == first["id"] and got["type"] == "ACTOR_CREATED"
            assert got["fact"] == {"id": first["id"], "version": 1, "name": first["name"]}
            cursor = got["sequence"]
        missed = [await create_actor(client, server.url, write_key) for _ in range(3)]
        async with graphql_ws(server.url) as ws:
            await subscribe(ws, "again", EVENTS, {"types": ["ACTOR_CREATED"], "after": cursor})
            seen = [(await next_event(ws, "again"))["events"] for _ in range(3)]
            live = await create_actor(client, server.url, write_key)
            seen.append((await next_event(ws, "again"))["events"])
            assert [e["objectId"] for e in seen] == [m["id"] for m in missed] + [live["id"]]
            with pytest.raises(TimeoutError):
                await next_message(ws, 0.5)  # and nothing twice


async def test_claim_changed_filters_by_speaker(server: LiveServer, write_key: str) -> None:
    body_quote = await _seed_quote(server.url)
    query = """subscription($speaker: ID) {
      claimChanged(speakerId: $speaker) { event { type } claim { id statement speaker { id } } }
    }"""
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(server.url) as ws:
        await subscribe(ws, "c", query, {"speaker": MADURO})
        await asyncio.sleep(0.2)
        for speaker in (TRUMP, MADURO):
            claim = {
                "statement": f"Statement {uuid.uuid4().hex[:6]}",
                "quoteType": "assertion",
                "speaker": speaker,
                "references": [body_quote],
            }
            r = await client.post(f"{server.url}/v1/claims", json=claim, headers=bearer(write_key))
            assert r.status_code == 201, r.text
            if speaker == MADURO:
                expected = r.json()["id"]
        got = (await next_event(ws, "c"))["claimChanged"]
        assert got["claim"]["id"] == expected and got["claim"]["speaker"]["id"] == MADURO
        assert got["event"]["type"] == "CLAIM_CREATED"


async def _seed_quote(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        body = (await client.get(f"{base}/v1/articles/{ARTICLE}")).json()["body"]
    text = body[:40]
    return {"article": ARTICLE, "charStart": 0, "charEnd": len(text), "quoteText": text}


async def test_legacy_protocol_and_bad_credentials_are_refused(server: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(ws_url(server.url), subprotocols=[websockets.Subprotocol("graphql-ws")]):
            pass
    async with websockets.connect(
        ws_url(server.url), subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nfk_wrong"}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_subscribe_before_init_and_duplicate_ids_close(server: LiveServer) -> None:
    async with websockets.connect(
        ws_url(server.url), subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await subscribe(ws, "x", EVENTS)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    async with graphql_ws(server.url) as ws:
        await subscribe(ws, "same", EVENTS)
        await subscribe(ws, "same", EVENTS)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409


async def test_abuse_on_one_connection_leaves_other_subscribers_alone(server: LiveServer, write_key: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(server.url) as bystander:
        await subscribe(bystander, "b", EVENTS, {"types": ["ACTOR_CREATED"]})
        async with graphql_ws(server.url) as ws:
            # An unknown operation name and an unknown field: errors for that operation only.
            await subscribe(ws, "u1", "subscription A { events { sequence } }", operation_name="B")
            message = await next_message(ws)
            assert message["type"] == "error" and message["id"] == "u1"
            await subscribe(ws, "u2", "subscription { nonsense }")
            message = await next_message(ws)
            assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            await subscribe(ws, "u3", 'subscription { claimChanged(speakerId: "clm_bad") { claim { id } } }')
            message = await next_message(ws)
            assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await next_message(ws))["type"] == "pong", "the connection survived its bad operations"
            await ws.send("{not json")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
        actor = await create_actor(client, server.url, write_key)
        while True:
            got = (await next_event(bystander, "b"))["events"]
            if got["objectId"] == actor["id"]:
                break


async def test_subscription_cap_per_connection(server: LiveServer) -> None:
    cap = server.settings.subscriptions_per_connection
    async with graphql_ws(server.url) as ws:
        for i in range(cap):
            await subscribe(ws, f"s{i}", EVENTS)
        await subscribe(ws, "one-too-many", EVENTS)
        message = await next_message(ws)
        assert message["type"] == "error" and message["id"] == "one-too-many"
        assert message["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        await ws.send(json.dumps({"id": "s0", "type": "complete"}))
        await asyncio.sleep(0.1)
        await subscribe(ws, "fits-now", EVENTS)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_message(ws))["type"] == "pong"


async def test_identical_live_subscriptions_share_one_execution_but_end_separately(
    server: LiveServer, write_key: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(server.url) as one, graphql_ws(server.url) as two:
        await subscribe(one, "a", EVENTS, {"types": ["ACTOR_CREATED"]})
        await subscribe(two, "b", EVENTS, {"types": ["ACTOR_CREATED"]})
        await asyncio.sleep(0.2)
        first = await create_actor(client, server.url, write_key)
        got_one = (await next_event(one, "a"))["events"]
        got_two = (await next_event(two, "b"))["events"]
        assert got_one == got_two and got_one["objectId"] == first["id"]
        await one.send(json.dumps({"id": "a", "type": "complete"}))
        await asyncio.sleep(0.1)
        second = await create_actor(client, server.url, write_key)
        assert (await next_event(two, "b"))["events"]["objectId"] == second["id"]
        with pytest.raises(TimeoutError):
            await next_message(one, 0.5)  # the completed operation gets nothing more


async def test_article_published_and_deployment_changed_filter_on_fields(server: LiveServer, write_key: str) -> None:
    articles = 'subscription { articlePublished(subject: "medtop:16000000") { article { id headline } } }'
    deployments = 'subscription { deploymentChanged(region: "caribbean") { event { type } deployment { id } } }'
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(server.url) as ws:
        await subscribe(ws, "art", articles)
        await subscribe(ws, "dep", deployments)
        await asyncio.sleep(0.2)

        async def post(path: str, body: dict[str, Any]) -> str:
            r = await client.post(f"{server.url}{path}", json=body, headers=bearer(write_key))
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        base = {"headline": "H", "body": "Text of the article."}
        await post("/v1/articles", {**base, "uri": f"urn:t:{uuid.uuid4().hex}", "subjects": ["medtop:01000000"]})
        wanted_article = await post(
            "/v1/articles", {**base, "uri": f"urn:t:{uuid.uuid4().hex}", "subjects": ["medtop:16000000"]}
        )
        deployment = {"deployer": TRUMP, "status": "active", "assets": []}
        await post("/v1/deployments", {**deployment, "region": {"name": "North Sea"}})
        wanted_deployment = await post("/v1/deployments", {**deployment, "region": {"name": "Southern Caribbean"}})
        seen: dict[str, Any] = {}
        while len(seen) < 2:
            message = await next_message(ws)
            assert message["type"] == "next" and message["id"] not in seen, message
            seen[message["id"]] = message["payload"]["data"]
        assert seen["art"]["articlePublished"]["article"]["id"] == wanted_article
        assert seen["dep"]["deploymentChanged"]["deployment"]["id"] == wanted_deployment
        assert seen["dep"]["deploymentChanged"]["event"]["type"] == "DEPLOYMENT_CREATED"
        with pytest.raises(TimeoutError):
            await next_message(ws, 0.5)
