"""Recall and sourcing over real HTTP: withholding an article reaches a webhook receiver, an SSE
client, a GraphQL subscriber and /v1/events as article.withheld plus claim.sourcing_changed for
each claim citing it; sourcing reads and filters the same on REST and GraphQL; release restores it;
new references into withdrawn articles are refused with CONFLICT on REST and GraphQL; the
corrections feed lists it all newest first with diffs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from api.settings import Settings
from tests.api.cached_server import cache_state
from tests.api.live_events import SSEReader, api_key, bearer, graphql_ws, last_sequence, next_message
from tests.api.webhook_receiver import Receiver, eventually, register, running_worker
from tests.factories import BODY
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

WANTED = ("article.withheld", "article.released", "claim.sourcing_changed")


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


def ref(article: dict[str, Any], text: str) -> dict[str, Any]:
    start = BODY.index(text)
    return {"article": article["id"], "charStart": start, "charEnd": start + len(text), "quoteText": text}


async def create(client: httpx.AsyncClient, key: str, collection: str, record: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/v1/{collection}", json=record, headers=bearer(key))
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def article(client: httpx.AsyncClient, key: str, headline: str) -> dict[str, Any]:
    import uuid

    return await create(
        client, key, "articles", {"uri": f"urn:recall:{uuid.uuid4().hex}", "headline": headline, "body": BODY}
    )


async def claim(client: httpx.AsyncClient, key: str, statement: str, *refs: dict[str, Any]) -> dict[str, Any]:
    return await create(
        client, key, "claims", {"statement": statement, "quoteType": "assertion", "references": list(refs)}
    )


async def set_status(client: httpx.AsyncClient, key: str, article_id: str, status: str) -> httpx.Response:
    return await client.patch(
        f"/v1/articles/{article_id}", params={"reason": "legal review"}, json={"pubStatus": status}, headers=bearer(key)
    )


async def gql(client: httpx.AsyncClient, query: str, key: str | None = None, **variables: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(key) if key else {}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_withholding_reaches_every_channel_and_release_restores_sourcing(
    wh_api: LiveServer,
    wh_client: httpx.AsyncClient,
    wh_receiver: Receiver,
    wh_settings: Settings,
    database_url: str,
    write_key: str,
) -> None:
    async with httpx.AsyncClient(base_url=wh_api.url, timeout=15) as client:
        a, b = await article(client, write_key, "To be withheld"), await article(client, write_key, "Stays")
        only_a = await claim(client, write_key, "Only a says so.", ref(a, "the convoy reached the port"))
        both = await claim(client, write_key, "a and b say so.", ref(a, "the minister"), ref(b, "the port"))
        only_b = await claim(client, write_key, "Only b says so.", ref(b, "the convoy"))
        start = await last_sequence(client, wh_api.url)
        endpoint = await register(wh_client, wh_receiver.url(), enabledEvents=list(WANTED))
        subscription = "subscription { events(types: [ARTICLE_WITHHELD, ARTICLE_RELEASED, CLAIM_SOURCING_CHANGED]) { type objectId fact { ... on Claim { sourcing } ... on Article { pubStatus } } } }"
        sse_url = f"{wh_api.url}/v1/events/stream?type={','.join(WANTED)}"
        async with (
            running_worker(wh_settings, database_url),
            graphql_ws(wh_api.url) as ws,
            SSEReader(client, sse_url) as sse,
        ):
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
            await asyncio.sleep(0.3)  # the subscription starts live: let it begin before the write
            withheld = await set_status(client, write_key, a["id"], "withheld")
            assert withheld.status_code == 200, withheld.text
            assert withheld.json()["pubStatus"] == "withheld"

            # The article's event, then one per claim whose sourcing changed (in id order); only_b is untouched.
            expected = [
                ("article.withheld", a["id"]),
                *sorted(
                    [("claim.sourcing_changed", only_a["id"]), ("claim.sourcing_changed", both["id"])],
                    key=lambda e: e[1],
                ),
            ]
            got = await sse.wait_for(3)
            assert [(e["type"], e["objectId"]) for e in got] == expected
            assert sse.names == [t for t, _ in expected], "each SSE frame is named by its event type"
            # These consumers are anonymous and the endpoint is public: the recall rules apply, so the
            # withdrawn claim's event carries no data (tests/api/test_events_recall.py has the rest).
            sourcing = {e["objectId"]: (e["data"] or {}).get("sourcing") for e in got[1:]}
            assert sourcing == {only_a["id"]: None, both["id"]: "partlyWithdrawn"}

            live = [(await next_message(ws))["payload"]["data"]["events"] for _ in range(3)]
            assert [(e["type"], e["objectId"]) for e in live] == [(t.replace(".", "_").upper(), i) for t, i in expected]
            assert live[0]["fact"] == {"pubStatus": "WITHHELD"}
            assert {e["objectId"]: e["fact"] and e["fact"]["sourcing"] for e in live[1:]} == {
                only_a["id"]: None,
                both["id"]: "PARTLY_WITHDRAWN",
            }

            await eventually(lambda: len(wh_receiver.received) >= 3)
            hook = Webhook(endpoint["secret"])
            delivered = [hook.verify(r.body, r.headers) for r in wh_receiver.received[:3]]
            assert sorted((d["type"], d["data"]["id"]) for d in delivered) == sorted(expected)
            thin = {d["data"]["id"]: (d.get("withdrawn"), d["data"]) for d in delivered}[only_a["id"]]
            assert thin == (True, {"id": only_a["id"], "object": "claim"})
            writer_view = (
                await client.get(
                    "/v1/events", params={"after": start, "objectId": only_a["id"]}, headers=bearer(write_key)
                )
            ).json()["data"]
            assert [e["data"]["sourcing"] for e in writer_view] == ["withdrawn"]

            polled = (await client.get("/v1/events", params={"after": start, "type": ",".join(WANTED)})).json()["data"]
            assert [(e["type"], e["objectId"]) for e in polled] == expected

            # Sourcing on REST and GraphQL, and as a filter on both — read with the write scope,
            # which sees withdrawn facts (read-scope and anonymous callers do not).
            writer = bearer(write_key)
            stored = (await client.get(f"/v1/claims/{only_b['id']}")).json()
            assert stored["sourcing"] == "supported" and stored["version"] == 1
            listed = (
                await client.get("/v1/claims", params={"article": a["id"], "sourcing": "withdrawn"}, headers=writer)
            ).json()["data"]
            assert [c["id"] for c in listed] == [only_a["id"]]
            found = await gql(
                client,
                "query($a: ID!) { claims(filter: {article: $a, sourcing: PARTLY_WITHDRAWN}) { nodes { id sourcing } } }",
                write_key,
                a=a["id"],
            )
            assert found["data"]["claims"]["nodes"] == [{"id": both["id"], "sourcing": "PARTLY_WITHDRAWN"}]

            # Release: every claim's sourcing comes back, each with a version of its own.
            released = await set_status(client, write_key, a["id"], "usable")
            assert released.status_code == 200, released.text
            again = await sse.wait_for(6)
            assert [e["type"] for e in again[3:]] == [
                "article.released",
                "claim.sourcing_changed",
                "claim.sourcing_changed",
            ]
            assert {e["data"]["sourcing"] for e in again[4:]} == {"supported"}
            restored = (await client.get(f"/v1/claims/{only_a['id']}")).json()
            assert (restored["sourcing"], restored["version"]) == ("supported", 3)
            await eventually(lambda: len(wh_receiver.received) >= 6)


async def test_a_new_reference_into_a_withdrawn_article_is_a_conflict_on_rest_and_graphql(
    server: LiveServer, write_key: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        usable, canceled = await article(client, write_key, "Usable"), await article(client, write_key, "Canceled")
        assert (await set_status(client, write_key, canceled["id"], "canceled")).status_code == 200
        record = {
            "statement": "Cites a canceled article.",
            "quoteType": "assertion",
            "references": [ref(usable, "the port"), ref(canceled, "the convoy")],
        }
        refused = await client.post("/v1/claims", json=record, headers=bearer(write_key))
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["code"] == "CONFLICT"
        assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("/references/1/article", "CONFLICT")]
        assert f"cites article {canceled['id']}, which is canceled" in problem["errors"][0]["detail"]

        # An existing claim may keep what it cites, but not add a reference into the canceled article.
        kept = await claim(client, write_key, "Cites the usable one.", ref(usable, "the port"))
        patched = await client.patch(
            f"/v1/claims/{kept['id']}", json={"references": record["references"]}, headers=bearer(write_key)
        )
        assert patched.status_code == 409 and patched.json()["errors"][0]["pointer"] == "/references/1/article"

        mutation = """mutation($input: CreateClaimInput!) { createClaim(input: $input) {
            claim { id } userErrors { path code message } } }"""
        answer = await gql(client, mutation, write_key, input={**record, "quoteType": "ASSERTION"})
        assert answer.get("data"), answer
        payload = answer["data"]["createClaim"]
        assert payload["claim"] is None
        assert [(e["path"], e["code"]) for e in payload["userErrors"]] == [
            (["input", "references", "1", "article"], "CONFLICT")
        ]
        assert "canceled" in payload["userErrors"][0]["message"]


async def test_the_corrections_feed_lists_recalls_and_sourcing_changes_newest_first_with_diffs(
    server: LiveServer, write_key: str
) -> None:
    # The editor's view (write scope): every diff. Anonymous readers: below.
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=15, headers=bearer(write_key)) as client,
        httpx.AsyncClient(base_url=server.url, timeout=15) as anonymous,
    ):
        a = await article(client, write_key, "Feed")
        c = await claim(client, write_key, "In the feed.", ref(a, "the port"))
        corrected = await client.post(
            f"/v1/claims/{c['id']}/corrections",
            json={"changes": {"status": "disputed"}, "reason": "second source"},
            headers=bearer(write_key),
        )
        assert corrected.status_code == 200, corrected.text
        since = corrected.json()["updatedAt"]
        await set_status(client, write_key, a["id"], "withheld")
        await client.delete(f"/v1/articles/{a['id']}", params={"reason": "fabricated"}, headers=bearer(write_key))

        page = (await client.get("/v1/corrections", params={"since": since, "limit": 100})).json()
        mine = [(d["factId"], d["version"], d["changeKind"]) for d in page["data"] if d["factId"] in (a["id"], c["id"])]
        # Newest first; within one transaction (the withhold and its sourcing change) by fact id.
        assert mine == [
            (a["id"], 3, "retracted"),
            *sorted([(a["id"], 2, "withheld"), (c["id"], 3, "sourcing_changed")]),
            (c["id"], 2, "corrected"),
        ]
        by_key = {(d["factId"], d["version"]): d for d in page["data"]}
        assert by_key[(c["id"], 2)]["diff"] == [{"field": "status", "from": "reported", "to": "disputed"}]
        assert by_key[(c["id"], 2)]["reason"] == "second source" and by_key[(c["id"], 2)]["changedBy"].startswith(
            "key:"
        )
        assert by_key[(c["id"], 3)]["diff"] == [{"field": "sourcing", "from": "supported", "to": "withdrawn"}]
        assert by_key[(c["id"], 3)]["reason"] == f"article {a['id']} withheld: legal review"
        assert by_key[(a["id"], 2)]["diff"] == [{"field": "pubStatus", "from": "usable", "to": "withheld"}]
        assert by_key[(a["id"], 3)]["factType"] == "article" and by_key[(a["id"], 3)]["object"] == "correction"

        # Keyset paging walks the same list one by one; filters by kind and change kind.
        walked, cursor = [], None
        for _ in range(10):
            params = {"since": since, "limit": 1, **({"cursor": cursor} if cursor else {})}
            step = (await client.get("/v1/corrections", params=params)).json()
            walked += [(d["factId"], d["version"]) for d in step["data"]]
            cursor = step["nextCursor"]
            if not step["hasMore"]:
                break
        assert walked == [(d["factId"], d["version"]) for d in page["data"]]
        claims_only = (
            await client.get(
                "/v1/corrections", params={"since": since, "kind": "claim", "changeKind": "sourcing_changed"}
            )
        ).json()["data"]
        assert [(d["factId"], d["version"]) for d in claims_only if d["factId"] == c["id"]] == [(c["id"], 3)]
        bad = await client.get(
            "/v1/corrections", params={"kind": "nope", "changeKind": "created", "since": "yesterday", "limit": "0"}
        )
        assert bad.status_code == 400
        assert {e["parameter"] for e in bad.json()["errors"]} == {"kind", "changeKind", "since", "limit"}

        # The GraphQL connection: the same documents, paged with after:.
        query = """query($since: DateTime, $after: String) { corrections(since: $since, first: 2, after: $after) {
            totalCount pageInfo { hasNextPage endCursor }
            nodes { factId factType version changeKind reason diff { field from to } } } }"""
        first = (await gql(client, query, since=since))["data"]["corrections"]
        second = (await gql(client, query, since=since, after=first["pageInfo"]["endCursor"]))["data"]["corrections"]
        nodes = first["nodes"] + second["nodes"]
        assert [(n["factId"], n["version"]) for n in nodes] == [(d["factId"], d["version"]) for d in page["data"][:4]]
        assert first["totalCount"] == len(page["data"]) and first["pageInfo"]["hasNextPage"] is (len(page["data"]) > 2)
        assert nodes[0]["changeKind"] == "RETRACTED" and nodes[0]["factType"] == "ARTICLE"
        sourcing = next(n for n in nodes if n["changeKind"] == "SOURCING_CHANGED")
        assert sourcing["diff"] == [{"field": "sourcing", "from": "supported", "to": "withdrawn"}]

        # An anonymous reader gets every entry — the recall must reach whoever has to take the
        # content down — but no diff of a fact withdrawn now.
        public = (await anonymous.get("/v1/corrections", params={"since": since, "limit": 100})).json()["data"]
        assert [(d["factId"], d["version"]) for d in public] == [(d["factId"], d["version"]) for d in page["data"]]
        assert {d["factId"]: d["diff"] for d in public if d["factId"] in (a["id"], c["id"])} == {
            a["id"]: [],
            c["id"]: [],
        }
        anon_gql = (await gql(anonymous, query, since=since))["data"]["corrections"]["nodes"]
        assert all(n["diff"] == [] for n in anon_gql if n["factId"] in (a["id"], c["id"]))

        # Every revision carries its diff too (REST and GraphQL).
        revisions = (await client.get(f"/v1/claims/{c['id']}/revisions")).json()["data"]
        assert [r["diff"] for r in revisions] == [[], by_key[(c["id"], 2)]["diff"], by_key[(c["id"], 3)]["diff"]]
        history = await gql(
            client,
            "query($id: ID!) { claim(id: $id) { revisions { version changeKind diff { field from to } } } }",
            id=c["id"],
        )
        assert [r["diff"] for r in history["data"]["claim"]["revisions"]] == [r["diff"] for r in revisions]
        assert [r["changeKind"] for r in history["data"]["claim"]["revisions"]] == [
            "created",
            "corrected",
            "sourcing_changed",
        ]


async def test_the_cache_forgets_a_recalled_article_and_the_facts_whose_sourcing_changed_at_once(
    cached_server: LiveServer, write_key: str
) -> None:
    # The write scope reads withdrawn facts; an anonymous reader (its own cache entries) does not.
    async with (
        httpx.AsyncClient(base_url=cached_server.url, timeout=15, headers=bearer(write_key)) as client,
        httpx.AsyncClient(base_url=cached_server.url, timeout=15) as anonymous,
    ):
        a = await article(client, write_key, "Cached, then withheld")
        c = await claim(client, write_key, "Cached claim.", ref(a, "the port"))
        await asyncio.sleep(0.3)  # let the invalidator apply the creations, or the first store is refused
        query = {"query": "query($id: ID!) { claim(id: $id) { sourcing } }", "variables": {"id": c["id"]}}
        reads = [f"/v1/articles/{a['id']}", f"/v1/claims/{c['id']}", f"/v1/claims?article={a['id']}"]
        for path in reads:
            await client.get(path)
            assert cache_state(await client.get(path)) == "hit", path
        await client.post("/graphql", json=query)
        assert cache_state(await client.post("/graphql", json=query)) == "hit"
        for path in reads[:2]:
            await anonymous.get(path)
            assert cache_state(await anonymous.get(path)) == "hit", path

        assert (await set_status(client, write_key, a["id"], "withheld")).status_code == 200
        # The write's own process answers its next reads fresh, with no wait.
        got = [await client.get(path) for path in reads]
        assert [cache_state(r) for r in got] == ["miss", "miss", "miss"]
        assert got[0].json()["pubStatus"] == "withheld"
        assert got[1].json()["sourcing"] == "withdrawn"
        assert [x["sourcing"] for x in got[2].json()["data"]] == ["withdrawn"]
        fresh = await client.post("/graphql", json=query)
        assert cache_state(fresh) == "miss" and fresh.json()["data"]["claim"] == {"sourcing": "WITHDRAWN"}
        # The anonymous hits are gone too: the article is a stub now, its only claim absent.
        stub = await anonymous.get(reads[0])
        assert cache_state(stub) == "miss" and stub.json()["body"] is None and stub.json()["pubStatus"] == "withheld"
        assert (await anonymous.get(reads[1])).status_code == 404
