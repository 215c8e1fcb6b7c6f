"""Subscriptions read through plans answer what the resolvers answer: the same subscriptions, held
on a server with the planner and one without (one database, one Redis), receive identical frames
for the same writes — typed fact fragments with relations, change payloads, argument refusals —
and /metrics shows the planned server executed them planned."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.api.live_events import api_key, bearer, graphql_ws, next_message
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

SUBSCRIPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        """subscription($types: [EventType!]) { events(types: $types) { __typename id sequence type objectType objectId
             objectVersion createdAt fact { __typename id version ... on Claim { statement quoteType status
               speaker { name kind } speakerDescription references { charStart quoteText article { headline } }
               revisions { version changeKind reason } }
             ... on Actor { name roles { title } claimsAsSpeaker(first: 2) { totalCount nodes { id } } } } } }""",
        {"types": ["CLAIM_CREATED", "CLAIM_CORRECTED", "ACTOR_CREATED"]},
    ),
    (
        """subscription { claimChanged { ev: event { type objectVersion } claim { id statement quote
             speaker { id name } reportedBy { name } subjects { name } relatedClaims { nodes { id } } } } }""",
        {},
    ),
    (
        "subscription($s: ID) { claimChanged(speakerId: $s) { claim { statement } } }",
        {"s": "not-an-actor"},
    ),
    (
        """subscription { deploymentChanged { event { type } deployment { status deployer { name }
             assets { assetType quantity { amount approximation originalText } } region { name } } } }""",
        {},
    ),
    # Only the event's own fields: the planned server builds these frames without a statement
    # (db/plan/local.py), and they must still be the resolvers' frames.
    (
        """subscription($noVersion: Boolean!, $withType: Boolean!) {
             events(types: [ACTOR_CREATED, CLAIM_CREATED, CLAIM_CORRECTED]) { __typename id sequence
               type @include(if: $withType) objectType objectId objectVersion @skip(if: $noVersion) createdAt } }""",
        {"noVersion": True, "withType": True},
    ),
]


@pytest.fixture(scope="module")
def paired(settings: Settings) -> Iterator[tuple[LiveServer, LiveServer]]:
    """A server with the planner and one without, over the session database and Redis."""
    planned = LiveServer(dataclasses.replace(settings, graphql_planner=True)).start()
    resolved = LiveServer(dataclasses.replace(settings, graphql_planner=False)).start()
    try:
        yield planned, resolved
    finally:
        planned.stop()
        resolved.stop()


async def _collect(ws: Any, want: dict[str, int], timeout: float = 10.0) -> dict[str, list[dict[str, Any]]]:
    """Frames by operation id until each has ``want[id]`` of them (errors and completes count)."""
    got: dict[str, list[dict[str, Any]]] = {op: [] for op in want}
    while any(len(got[op]) < n for op, n in want.items()):
        message = await next_message(ws, timeout)
        got.setdefault(message["id"], []).append(message)
    return got


def _planned_subscriptions(metrics: bytes) -> float:
    found = re.search(
        rb'^newsfacts_graphql_subscription_executions_total\{path="planned"\} ([0-9.e+]+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


async def test_planned_subscriptions_send_the_resolvers_frames(
    paired: tuple[LiveServer, LiveServer], database_url: str
) -> None:
    planned, resolved = paired
    key = await api_key(database_url, "write")
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(planned.url) as a, graphql_ws(resolved.url) as b:
        before = _planned_subscriptions((await client.get(planned.url + "/metrics")).content)
        for ws in (a, b):
            for n, (query, variables) in enumerate(SUBSCRIPTIONS):
                await ws.send(
                    json.dumps(
                        {"id": f"s{n}", "type": "subscribe", "payload": {"query": query, "variables": variables}}
                    )
                )
        await asyncio.sleep(0.5)  # both servers' feeds are live before the writes
        headers = bearer(key)
        frames_a: dict[str, list[dict[str, Any]]] = {}
        frames_b: dict[str, list[dict[str, Any]]] = {}

        async def settle(want: dict[str, int]) -> None:
            """Both servers delivered the write's frames: the next write cannot change what they read."""
            for ws, frames in ((a, frames_a), (b, frames_b)):
                for op, got in (await _collect(ws, want)).items():
                    frames.setdefault(op, []).extend(got)

        await settle({"s2": 1})  # the refusal comes at once
        new_actor = {"kind": "person", "name": "Sub Scriber"}
        actor = (await client.post(planned.url + "/v1/actors", json=new_actor, headers=headers)).json()
        await settle({"s0": 1, "s4": 1})
        article = (await client.get(planned.url + "/v1/articles", params={"limit": 1})).json()["data"][0]
        quote = article["body"][:20]
        claim = {"statement": "A planned statement.", "quoteType": "direct", "quote": quote, "speaker": actor["id"],
                 "references": [{"article": article["id"], "charStart": 0, "charEnd": len(quote), "quoteText": quote}]}  # fmt: skip
        created = await client.post(planned.url + "/v1/claims", json=claim, headers=headers)
        assert created.status_code == 201, created.text
        await settle({"s0": 1, "s1": 1, "s4": 1})
        correction = {"changes": {"statement": "A corrected statement."}, "reason": "wording"}
        path = f"/v1/claims/{created.json()['id']}/corrections"
        fixed = await client.post(planned.url + path, json=correction, headers=headers)
        assert fixed.status_code in (200, 201), fixed.text
        await settle({"s0": 1, "s1": 1, "s4": 1})
        after = _planned_subscriptions((await client.get(planned.url + "/metrics")).content)
    assert frames_a == frames_b
    assert [m["type"] for m in frames_a["s2"]] == ["error"]
    assert frames_a["s2"][0]["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert frames_a["s0"][2]["payload"]["data"]["events"]["fact"]["speaker"]["name"] == "Sub Scriber"
    own = [m["payload"]["data"]["events"] for m in frames_a["s4"]]
    assert [e["type"] for e in own] == ["ACTOR_CREATED", "CLAIM_CREATED", "CLAIM_CORRECTED"]
    assert all("objectVersion" not in e and e["__typename"] == "Event" for e in own)
    assert after - before >= len(SUBSCRIPTIONS)


WS_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("{ __typename }", {}),
    (
        """query($n: Int!) { articles(first: $n) { totalCount pageInfo { hasNextPage endCursor }
             nodes { id headline claims(first: 2) { nodes { id statement speaker { name } } } } } }""",
        {"n": 3},
    ),
    ('{ claim(id: "clm_01JZZZZZZZZZZZZZZZZZZZZZZZ") { id } }', {}),  # NOT_FOUND beside null data
    ("query($q: String!) { search(query: $q, first: 3) { edges { rank node { __typename } } } }", {"q": "troops"}),
]


def _graphql_paths(metrics: bytes) -> dict[str, float]:
    found = re.findall(rb'^newsfacts_graphql_operations_total\{path="(\w+)"\} ([0-9.e+]+)$', metrics, re.M)
    return {path.decode(): float(n) for path, n in found}


async def test_queries_over_websocket_are_planned_and_answer_what_the_resolvers_answer(
    paired: tuple[LiveServer, LiveServer],
) -> None:
    planned, resolved = paired
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(planned.url) as a, graphql_ws(resolved.url) as b:
        before = _graphql_paths((await client.get(planned.url + "/metrics")).content)
        frames = []
        for ws in (a, b):
            for n, (query, variables) in enumerate(WS_QUERIES):
                message = {"id": f"q{n}", "type": "subscribe", "payload": {"query": query, "variables": variables}}
                await ws.send(json.dumps(message))
            frames.append(await _collect(ws, {f"q{n}": 2 for n in range(len(WS_QUERIES))}))
        after = _graphql_paths((await client.get(planned.url + "/metrics")).content)
    assert frames[0] == frames[1]
    assert [m["type"] for m in frames[0]["q1"]] == ["next", "complete"]
    articles = frames[0]["q1"][0]["payload"]["data"]["articles"]
    assert articles["totalCount"] >= 1 and len(articles["nodes"]) == min(3, articles["totalCount"])
    assert frames[0]["q2"][0]["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert after.get("planned", 0) - before.get("planned", 0) == len(WS_QUERIES)
