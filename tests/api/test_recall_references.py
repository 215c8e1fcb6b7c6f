"""No word of a withheld article reaches read-scope or anonymous callers through a reference. A fact
only partly withdrawn — it cites a usable article and a withheld one — stays readable for them, but
without its references into the withheld article (their quoteText is that article's own words): on
REST (item, list, relation, expand, search, export, asOf, revisions, the corrections feed), both
GraphQL paths, /v1/events, an SSE replay, a GraphQL subscription replay and a public webhook; a
deployment asset's nested references and an incident's alike; a past version citing an article the
fact cites no more, and a retracted fact, too. Write keys still get every reference, and a release
brings them back. A cached answer made before the recall is not served after it."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from standardwebhooks import Webhook

from api.settings import Settings
from tests.api.cached_server import cache_state
from tests.api.history import database_now
from tests.api.live_events import SSEReader, api_key, bearer, event_log, graphql_ws, log_head, next_message
from tests.api.webhook_receiver import Receiver, eventually, register, running_worker
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

# Every word of these is the withheld article's alone (none is in the other article or a statement).
SECRET = ("Morvantine", "Kelsingrad", "Ostrawick", "Pellivar")
HELD_BODY = "Morvantine envoys met at Kelsingrad harbour. The Ostrawick ledger showed a Pellivar shipment."
OTHER_BODY = "Officials met on Monday. Trade resumed at the southern pier, the port authority said."

FACTS = """query($both: ID!, $dep: ID!, $inc: ID!, $moved: ID!, $gone: ID!, $other: ID!, $at: DateTime, $t1: DateTime) {
  both: claim(id: $both) { sourcing references { quoteText charStart charEnd article { id } }
                           revisions { version snapshot diff { field from to } } }
  bothThen: claim(id: $both, asOf: $at) { references { quoteText article { id } } }
  movedThen: claim(id: $moved, asOf: $t1) { version references { quoteText } }
  moved: claim(id: $moved) { revisions { version snapshot diff { field from to } } }
  gone: claim(id: $gone) { retractedAt references { quoteText } }
  dep: deployment(id: $dep) { references { quoteText } assets { references { quoteText article { id } } }
                              revisions { snapshot diff { field from to } } }
  depThen: deployment(id: $dep, asOf: $at) { assets { references { quoteText } } }
  inc: incident(id: $inc) { references { quoteText } revisions { snapshot diff { field from to } } }
  incThen: incident(id: $inc, asOf: $at) { references { quoteText } }
  claims(filter: {article: $other}, first: 20) { nodes { id references { quoteText } } }
  article(id: $other) {
    claims(first: 20) { nodes { id references { quoteText } } }
    deployments(first: 20) { nodes { assets { references { quoteText } } } }
    incidents(first: 20) { nodes { references { quoteText } } }
  }
  search(query: "envoys", types: [CLAIM]) { nodes { ... on Claim { id references { quoteText } } } }
  corrections(first: 100) { nodes { factId version diff { field from to } } }
}"""
EVENTS = """subscription($after: Int) { events(after: $after) { sequence objectId fact {
  ... on Claim { references { quoteText } }
  ... on Deployment { references { quoteText } assets { references { quoteText } } }
  ... on Incident { references { quoteText } } } } }"""


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("read", "write")}


def leaks(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value)
    return [word for word in SECRET if word in text]


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=bearer(key))
    assert r.status_code in (200, 201), r.text
    doc: dict[str, Any] = r.json()
    return doc


async def set_status(client: httpx.AsyncClient, article: dict[str, Any], status: str, key: str) -> None:
    r = await client.patch(f"/v1/articles/{article['id']}", json={"pubStatus": status}, headers=bearer(key))
    assert r.status_code == 200, r.text


async def articles(client: httpx.AsyncClient, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    held = await post(
        client, "/v1/articles", {"uri": f"urn:test:held-{tag}", "headline": "Envoys", "body": HELD_BODY}, key
    )
    other = await post(
        client, "/v1/articles", {"uri": f"urn:test:other-{tag}", "headline": "Pier", "body": OTHER_BODY}, key
    )
    return held, other


async def partly_sourced(
    client: httpx.AsyncClient, held: dict[str, Any], other: dict[str, Any], key: str
) -> dict[str, dict[str, Any]]:
    """A claim, a deployment (its asset citing both articles) and an incident, each citing both."""
    both = await post(
        client, "/v1/claims",
        {"statement": "Envoys met on Monday", "quoteType": "assertion",
         "references": [quote_ref(held, "Morvantine envoys met at Kelsingrad harbour"),
                        quote_ref(other, "Officials met on Monday")]},
        key,
    )  # fmt: skip
    dep = await post(
        client, "/v1/deployments",
        {"status": "active", "references": [quote_ref(other, "Trade resumed at the southern pier")],
         "assets": [{"assetType": "warship", "references": [quote_ref(held, "a Pellivar shipment"),
                                                            quote_ref(other, "the port authority said")]}]},
        key,
    )  # fmt: skip
    inc = await post(
        client, "/v1/incidents",
        {"incidentType": "protest",
         "references": [quote_ref(held, "The Ostrawick ledger"), quote_ref(other, "the southern pier")]},
        key,
    )  # fmt: skip
    return {"both": both, "dep": dep, "inc": inc}


async def test_a_partly_withdrawn_fact_reads_without_a_word_of_its_withheld_article(
    server: LiveServer, resolvers: LiveServer, database_url: str, keys: dict[str, str]
) -> None:
    write = keys["write"]
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        start = await database_now(database_url)
        held, other = await articles(client, write)
        facts = await partly_sourced(client, held, other, write)
        both, dep, inc = facts["both"], facts["dep"], facts["inc"]
        # A claim whose first version cited the withheld article and whose correction dropped it:
        # supported now, but its version of then quotes the article.
        moved = await post(
            client, "/v1/claims",
            {"statement": "Envoys met", "quoteType": "assertion",
             "references": [quote_ref(held, "Morvantine envoys"), quote_ref(other, "Officials met")]},
            write,
        )  # fmt: skip
        t1 = await database_now(database_url)
        await post(
            client, f"/v1/claims/{moved['id']}/corrections",
            {"changes": {"references": [quote_ref(other, "Officials met")]}, "reason": "one source"},
            write,
        )  # fmt: skip
        # A fact retracted before the recall keeps its last version, sourcing 'supported' included.
        gone = await post(
            client, "/v1/claims",
            {"statement": "Envoys left", "quoteType": "assertion",
             "references": [quote_ref(held, "The Ostrawick ledger showed"), quote_ref(other, "Trade resumed")]},
            write,
        )  # fmt: skip
        assert (await client.delete(f"/v1/claims/{gone['id']}", headers=bearer(write))).status_code == 200
        before = await database_now(database_url)
        ids = {"both": both["id"], "dep": dep["id"], "inc": inc["id"], "moved": moved["id"], "gone": gone["id"]}
        variables = {**ids, "other": other["id"], "at": before, "t1": t1}
        rest = _rest_reads(ids, held, other, before, t1, start)

        # Before the recall every reader gets the quotes: the words were public then.
        assert leaks((await client.get(rest[0])).json()) and leaks(await _graphql(client, server.url, variables))

        await set_status(client, held, "withheld", write)
        for who in ({}, bearer(keys["read"])):
            for path in rest:
                r = await _read(client, path, who)
                assert not leaks(r.text), (path, leaks(r.text))
            item = (await client.get(f"/v1/claims/{both['id']}", headers=who)).json()
            assert item["sourcing"] == "partlyWithdrawn"
            assert item["references"] == [quote_ref(other, "Officials met on Monday")]
            asset = (await client.get(f"/v1/deployments/{dep['id']}", headers=who)).json()["assets"][0]
            assert asset["references"] == [quote_ref(other, "the port authority said")]
            assert (await client.get(f"/v1/incidents/{inc['id']}", headers=who)).json()["references"] == [
                quote_ref(other, "the southern pier")
            ]
            assert (await client.get(f"/v1/claims/{gone['id']}", headers=who)).json()["references"] == [
                quote_ref(other, "Trade resumed")
            ]
            # The fact is still listed under the stub: its id is not the article's words.
            under = (await client.get(f"/v1/articles/{held['id']}/claims", headers=who)).json()["data"]
            assert both["id"] in [c["id"] for c in under]
            # The correction that dropped the reference changes nothing a public reader can see.
            history = (await client.get(f"/v1/claims/{moved['id']}/revisions", headers=who)).json()["data"]
            assert [r["diff"] for r in history] == [[], []]
            answers = [await _graphql(client, base, variables, who) for base in (server.url, resolvers.url)]
            assert answers[0] == answers[1], "the planner and the resolvers agree"
            assert not leaks(answers[0])
            data = answers[0]["data"]
            assert data["both"]["references"] == [
                {"quoteText": "Officials met on Monday", "charStart": 0, "charEnd": 23, "article": {"id": other["id"]}}
            ]
            assert data["bothThen"]["references"] == [
                {"quoteText": "Officials met on Monday", "article": {"id": other["id"]}}
            ]
            assert data["movedThen"] == {"version": 1, "references": [{"quoteText": "Officials met"}]}

        # A write key still reads every reference, in every version.
        writer = bearer(write)
        for path in rest[:13]:
            assert leaks((await _read(client, path, writer)).text), path
        written = await _graphql(client, server.url, variables, writer)
        assert len(written["data"]["both"]["references"]) == 2 and leaks(written["data"]["movedThen"])

        # Released: the references come back for everyone, at every time.
        await set_status(client, held, "usable", write)
        item = (await client.get(f"/v1/claims/{both['id']}")).json()
        assert [r["quoteText"] for r in item["references"]] == [
            "Morvantine envoys met at Kelsingrad harbour",
            "Officials met on Monday",
        ]
        assert leaks((await client.get(f"/v1/claims/{moved['id']}", params={"asOf": t1})).json())
        assert leaks((await client.get(f"/v1/deployments/{dep['id']}")).json()["assets"])
        back = [await _graphql(client, base, variables) for base in (server.url, resolvers.url)]
        assert back[0] == back[1] and len(back[0]["data"]["both"]["references"]) == 2
        assert leaks(back[0]["data"]["moved"]["revisions"]) and leaks(back[0]["data"]["gone"])


def _rest_reads(
    ids: dict[str, str], held: dict[str, Any], other: dict[str, Any], before: str, t1: str, start: str
) -> list[str]:
    """Every REST read that shows the facts' references, snapshots or diffs (the first 13 quote the
    withheld article for a write key); ``#ndjson``: read as an NDJSON export."""
    at, then = f"asOf={quote(before)}", f"asOf={quote(t1)}"
    return [
        f"/v1/claims/{ids['both']}",
        f"/v1/claims/{ids['both']}?expand=references.article",
        f"/v1/claims/{ids['both']}?{at}",
        f"/v1/claims/{ids['moved']}?{then}",
        f"/v1/claims/{ids['gone']}",
        f"/v1/deployments/{ids['dep']}",
        f"/v1/deployments/{ids['dep']}?{at}",
        f"/v1/incidents/{ids['inc']}",
        f"/v1/claims/{ids['both']}/revisions",
        f"/v1/deployments/{ids['dep']}/revisions",
        f"/v1/incidents/{ids['inc']}/revisions",
        f"/v1/corrections?since={quote(start)}&limit=100",
        f"/v1/claims/{ids['both']}?format=jsonld",
        f"/v1/claims?article={other['id']}",
        f"/v1/claims?article={other['id']}&{at}",
        f"/v1/articles/{held['id']}/claims",
        f"/v1/articles/{other['id']}/claims?expand=references.article",
        f"/v1/deployments?article={other['id']}",
        f"/v1/incidents?article={other['id']}",
        f"/v1/incidents/{ids['inc']}?{at}",
        f"/v1/claims/{ids['moved']}/revisions",
        "/v1/claims?q=envoys&sort=relevance",
        f"/v1/claims?article={other['id']}#ndjson",
        f"/v1/deployments?article={other['id']}#ndjson",
    ]


async def _read(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    url, _, export = path.partition("#")
    r = await client.get(url, headers={**headers, "Accept": "application/x-ndjson"} if export else headers)
    assert r.status_code == 200, (path, r.text)
    return r


async def _graphql(
    client: httpx.AsyncClient, base: str, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    r = await client.post(f"{base}/graphql", json={"query": FACTS, "variables": variables}, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body["errors"]
    return body


async def test_events_of_a_partly_withdrawn_fact_carry_no_word_of_its_withheld_article(
    wh_api: LiveServer,
    wh_client: httpx.AsyncClient,
    wh_receiver: Receiver,
    wh_settings: Settings,
    database_url: str,
    keys: dict[str, str],
) -> None:
    write = keys["write"]
    async with httpx.AsyncClient(base_url=wh_api.url, timeout=15) as client, running_worker(wh_settings, database_url):
        start = await log_head(client, write)
        public_hook = await register(wh_client, wh_receiver.url("/public"))
        full_hook = await register(wh_client, wh_receiver.url("/full"), payloadScope="full")
        held, other = await articles(client, write)
        facts = await partly_sourced(client, held, other, write)
        created = await log_head(client, write)
        await eventually(lambda: len(wh_receiver.received) >= 2 * (created - start))
        sent = len(wh_receiver.received)

        await set_status(client, held, "withheld", write)
        last = await log_head(client, write)
        # Delivered live after the recall: the withhold and the three facts' sourcing changes.
        await eventually(lambda: len(wh_receiver.received) >= sent + 2 * (last - created))
        live = [
            Webhook(public_hook["secret"]).verify(r.body, r.headers)
            for r in wh_receiver.received[sent:]
            if r.path == "/public"
        ]
        assert {b["data"]["id"] for b in live} == {held["id"], *(f["id"] for f in facts.values())}
        assert not leaks(live)
        partly = next(b for b in live if b["data"]["id"] == facts["both"]["id"])
        assert partly["data"]["references"] == [quote_ref(other, "Officials met on Monday")]

        for who, key in (({}, None), (bearer(keys["read"]), keys["read"])):
            replayed = await event_log(client, start, who)
            assert replayed[-1]["sequence"] == last and not leaks(replayed), leaks(replayed)
            mine = [e for e in replayed if e["objectId"] in {f["id"] for f in facts.values()}]
            assert [e["type"].split(".")[1] for e in mine] == ["created"] * 3 + ["sourcing_changed"] * 3
            async with SSEReader(client, f"{wh_api.url}/v1/events/stream?after={start}", headers=who) as sse:
                await eventually(lambda s=sse: s.events and s.events[-1]["sequence"] >= last)
                assert [e["sequence"] for e in sse.events] == [e["sequence"] for e in replayed]
                assert not leaks(sse.events)
            async with graphql_ws(wh_api.url, key) as ws:
                payload = {"query": EVENTS, "variables": {"after": start}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
                got = [(await next_message(ws))["payload"]["data"]["events"] for _ in range(last - start)]
                assert [e["sequence"] for e in got] == [e["sequence"] for e in replayed]
                assert not leaks(got)
        assert leaks(await event_log(client, start, bearer(write))), "a write key gets every reference"

        # Redelivered: a replay of the whole stretch goes out as the rules say now.
        sent = len(wh_receiver.received)
        for hook in (public_hook, full_hook):
            replay = await wh_client.post(f"/v1/webhook-endpoints/{hook['id']}/replay", json={"afterSequence": start})
            assert replay.status_code == 202 and replay.json()["queued"] == last - start
        await eventually(lambda: len(wh_receiver.received) >= sent + 2 * (last - start))
        again = wh_receiver.received[sent:]
        assert not leaks(
            [Webhook(public_hook["secret"]).verify(r.body, r.headers) for r in again if r.path == "/public"]
        )
        assert leaks([Webhook(full_hook["secret"]).verify(r.body, r.headers) for r in again if r.path == "/full"])

        # Released: the references come back in the events' payloads too.
        await set_status(client, held, "usable", write)
        first = next(e for e in await event_log(client, start) if e["objectId"] == facts["both"]["id"])
        assert [r["quoteText"] for r in first["data"]["references"]] == [
            "Morvantine envoys met at Kelsingrad harbour",
            "Officials met on Monday",
        ]


async def test_a_cached_answer_quoting_an_article_is_not_served_once_it_is_withheld(
    cached_server: LiveServer, keys: dict[str, str]
) -> None:
    # A claim already partly withdrawn (through another withheld article) stays so when a second
    # article it cites is withheld: the recall gives it no event, and the cached GraphQL answer,
    # which selects no article id, names only the claim.
    write = keys["write"]
    async with httpx.AsyncClient(base_url=cached_server.url, timeout=15) as client:
        held, other = await articles(client, write)
        aux, _ = await articles(client, write)
        claim = await post(
            client, "/v1/claims",
            {"statement": "Envoys met on Monday", "quoteType": "assertion",
             "references": [quote_ref(held, "Kelsingrad harbour"), quote_ref(aux, "envoys met"),
                            quote_ref(other, "Officials met on Monday")]},
            write,
        )  # fmt: skip
        await set_status(client, aux, "withheld", write)
        await asyncio.sleep(0.3)  # let the invalidator apply the writes, or the first store is refused
        query = {
            "query": "query($id: ID!) { claim(id: $id) { references { quoteText } } }",
            "variables": {"id": claim["id"]},
        }
        for _ in range(2):
            cached = await client.post("/graphql", json=query)
        assert cache_state(cached) == "hit" and leaks(cached.json())

        await set_status(client, held, "withheld", write)
        events = (await client.get("/v1/events", params={"objectId": claim["id"]}, headers=bearer(write))).json()
        assert [e["type"] for e in events["data"]] == ["claim.created", "claim.sourcing_changed"]
        fresh = await client.post("/graphql", json=query)
        assert cache_state(fresh) == "miss" and not leaks(fresh.json())
        assert fresh.json()["data"]["claim"]["references"] == [{"quoteText": "Officials met on Monday"}]

        await set_status(client, held, "usable", write)
        back = await client.post("/graphql", json=query)
        assert cache_state(back) == "miss" and len(back.json()["data"]["claim"]["references"]) == 2
