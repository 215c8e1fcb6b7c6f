"""Suggested facts over real HTTP (POST /v1/articles/{id}/suggestions and GraphQL suggestFacts):
write scope, refusals that say what is wrong (404, 413, 400) and empty answers with a reason,
``existing`` on what the seed already holds, and every suggestion's create body for every gold
article accepted by the write path as it is."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import httpx
import orjson
import pytest

from bench.suggest_gold import articles, known_actor_records
from db import bulk
from db.ids import new_id
from db.pool import connect
from db.suggestions import MAX_CHARS
from tests.api.live_events import api_key, bearer
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

SEED = "art_01K8B1E3F9FPCM47JBPJSG0VT9"
CANDY = "clm_01K8B1E4EJJ4YDVT3E4602WPWC"
AT_LEAST_65 = "clm_01K8B1E4ESKEYMZNYV71P98AAQ"
BUILDUP = "dep_01K8B1E5DS81PW7K51N7X88QBD"
STRIKES = "inc_01K8B1E7C9EGR26T72D8JGSNDX"


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    """A write and a read key, and the gold set's extra known actors loaded (ids kept)."""

    async def setup() -> dict[str, str]:
        conn = await connect(database_url)
        try:
            seeded = {r["id"] for r in await conn.fetch("SELECT id FROM actors")}
            extra = [{"object": "actor", **a} for a in known_actor_records() if a["id"] not in seeded]
            stream = io.BytesIO(b"\n".join(orjson.dumps(a) for a in extra))
            report = await bulk.load(conn, bulk.read_records(stream), changed_by="test")
            assert not report.rejected, report.rejected
        finally:
            await conn.close()
        return {"write": await api_key(database_url, "write"), "read": await api_key(database_url, "read")}

    return asyncio.run(setup())


async def _article(client: httpx.AsyncClient, key: str, body: str, **fields: Any) -> str:
    record = {"uri": f"urn:test:suggest:{uuid.uuid4()}", "headline": "Test", "body": body, **fields}
    r = await client.post("/v1/articles", json=record, headers=bearer(key))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _suggest(client: httpx.AsyncClient, key: str | None, article: str, **kwargs: Any) -> httpx.Response:
    return await client.post(f"/v1/articles/{article}/suggestions", headers=bearer(key) if key else {}, **kwargs)


def _find(doc: dict[str, Any], kind: str, words: str) -> dict[str, Any]:
    for s in doc["suggestions"]:
        if s["kind"] == kind and any(words in r["quoteText"] for r in s["references"]):
            return dict(s)
    raise AssertionError(f"no {kind} suggestion citing {words!r}")


async def test_the_seed_article_gets_claims_quantities_and_actors_marked_where_it_has_them(
    server: LiveServer, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        r = await _suggest(client, keys["write"], SEED)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        doc = r.json()
        assert doc["object"] == "suggestions" and doc["article"] == SEED and doc["reason"] is None

        candy = _find(doc, "claim", "enough candy in the dish")
        assert candy["quoteType"] == "direct" and candy["cue"] == "told" and candy["existing"] == CANDY
        assert [ref["quoteText"] for ref in candy["references"]] == [
            "If there is enough pressure, and if there is enough candy in the dish,",
            "everything is on the table with Maduro.",
        ]
        assert candy["create"]["references"][0]["article"] == SEED

        according = _find(doc, "claim", "According to The Atlantic")
        assert according["quoteType"] == "indirect" and according["existing"] == AT_LEAST_65
        assert according["speaker"] == {"actor": "act_01K8B1E2G4CV8AYVXXYVX5Y92G"}

        troops = _find(doc, "quantity", "around 10,000 troops")
        assert troops["quantity"] == {
            "amount": 10000, "lowerBound": None, "upperBound": None, "approximation": "approximately",
            "unit": "troops", "originalText": "around 10,000 troops",
        }  # fmt: skip
        assert troops["existing"] == BUILDUP and troops["createKind"] == "deployment"
        killed = _find(doc, "quantity", "at least 65 people")
        assert killed["quantity"]["lowerBound"] == 65 and killed["quantity"]["amount"] is None
        assert killed["existing"] == STRIKES and killed["createKind"] == "incident"

        maduro = _find(doc, "actor", "Nicolás Maduro")
        assert maduro["match"] == "act_01K8B1E2G12Z4MP14DZVS18EHJ" and maduro["create"] is None
        body = (await client.get(f"/v1/articles/{SEED}")).json()["body"]
        for s in doc["suggestions"]:
            for ref in s["references"]:
                assert body[ref["charStart"] : ref["charEnd"]] == ref["quoteText"]


async def test_known_actors_match_by_alias_and_without_accents(server: LiveServer, keys: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        article = await _article(
            client, keys["write"],
            "Labour Minister Jose Antonio Ramirez met the Pentagon's envoy, and the PDVSA board said output rose.",
        )  # fmt: skip
        doc = (await _suggest(client, keys["write"], article)).json()
        matched = {s["name"]: s["match"] for s in doc["suggestions"] if s["kind"] == "actor"}
        assert matched["José Antonio Ramírez"] == "act_01M95GHPGWRFQFKK3Q0ZYJDG1N"  # accents aside
        assert matched["Petróleos de Venezuela"] == "act_01M95GHPGWM3QRY5QNKMNB0Y2V"  # by its alias PDVSA
        assert matched["Pentagon"] == "act_01K8B1E2G6G33T8G953V0KSCB5"


async def test_an_accepted_suggestion_is_then_marked_existing(server: LiveServer, keys: dict[str, str]) -> None:
    body = "“We will rebuild every school,” the mayor said. About 300 families lost their homes."
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        article = await _article(client, keys["write"], body)
        first = (await _suggest(client, keys["write"], article)).json()
        quote = _find(first, "claim", "We will rebuild every school")
        assert quote["existing"] is None and quote["speaker"] == {"description": "the mayor"}
        created = await client.post("/v1/claims", json=quote["create"], headers=bearer(keys["write"]))
        assert created.status_code == 201, created.text
        again = (await _suggest(client, keys["write"], article)).json()
        assert _find(again, "claim", "We will rebuild every school")["existing"] == created.json()["id"]


async def test_every_suggestion_of_every_gold_article_is_accepted_by_the_write_path_as_it_is(
    server: LiveServer, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        written = 0
        for gold in articles():
            if gold.gold["source"].startswith("db/"):
                article = SEED
            else:
                article = await _article(client, keys["write"], gold.text, outlet="act_01K8B1E2G4CV8AYVXXYVX5Y92G")
            doc = (await _suggest(client, keys["write"], article)).json()
            assert doc["suggestions"], gold.name
            for s in doc["suggestions"]:
                if s["create"] is None:
                    assert s["kind"] == "actor" and s["match"], s
                    continue
                r = await client.post(f"/v1/{s['createKind']}s", json=s["create"], headers=bearer(keys["write"]))
                assert r.status_code == 201, (gold.name, s, r.text)
                written += 1
        assert written > 150


async def test_an_unknown_or_malformed_article_is_404(server: LiveServer, keys: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for article in (new_id("article"), "nope", "clm_01K8B1E4EJJ4YDVT3E4602WPWC"):
            r = await _suggest(client, keys["write"], article)
            assert r.status_code == 404, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "NOT_FOUND"


async def test_empty_withheld_and_retracted_articles_get_no_suggestions_and_a_reason(
    server: LiveServer, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        empty = await _article(client, keys["write"], "   ")
        withheld = await _article(client, keys["write"], "“It is over,” she said.", pubStatus="withheld")
        retracted = await _article(client, keys["write"], "“It is over,” she said.")
        assert (await client.delete(f"/v1/articles/{retracted}", headers=bearer(keys["write"]))).status_code == 200
        for article, why in ((empty, "no body"), (withheld, "withheld"), (retracted, "retracted")):
            r = await _suggest(client, keys["write"], article)
            assert r.status_code == 200, r.text
            assert r.json()["suggestions"] == [] and why in r.json()["reason"]


async def test_a_body_over_the_limit_is_413_with_its_code(server: LiveServer, keys: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        article = await _article(client, keys["write"], "Word. " * (MAX_CHARS // 6 + 1))
        r = await _suggest(client, keys["write"], article)
        assert r.status_code == 413 and r.json()["code"] == "ARTICLE_TOO_LARGE", r.text
        r = await _suggest(client, keys["write"], SEED, content=b"{" + b" " * 2_100_000 + b"}")
        assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE", r.text


async def test_options_are_refused_and_only_a_write_key_may_ask(server: LiveServer, keys: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        r = await _suggest(client, keys["write"], SEED, json={"engine": "rules"})
        assert r.status_code == 400 and r.json()["errors"][0]["pointer"] == "/body", r.text
        r = await client.post(f"/v1/articles/{SEED}/suggestions?limit=3", headers=bearer(keys["write"]))
        assert r.status_code == 400 and r.json()["errors"][0]["pointer"] == "/query/limit", r.text
        assert (await _suggest(client, keys["write"], SEED, json={})).status_code == 200
        assert (await _suggest(client, None, SEED)).status_code == 401
        assert (await _suggest(client, keys["read"], SEED)).status_code == 403


SUGGEST = """mutation($article: ID!) { suggestFacts(article: $article) {
  suggestions { article reason suggestions { __typename
    ... on ClaimSuggestion { quoteType speaker { actor name description } existing createKind create references { quoteText } }
    ... on QuantitySuggestion { quantity { amount lowerBound approximation } createKind create existing }
    ... on ActorSuggestion { name match } } }
  userErrors { path code message } } }"""


async def test_graphql_suggest_facts_gives_inputs_ready_for_create_mutations(
    server: LiveServer, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        body = "“Nobody warned us,” said Rosa Lima, a teacher. At least 12 people were killed, officials said."
        article = await _article(client, keys["write"], body)
        r = await client.post(
            "/graphql", json={"query": SUGGEST, "variables": {"article": article}}, headers=bearer(keys["write"])
        )
        payload = r.json()["data"]["suggestFacts"]
        assert payload["userErrors"] == [], payload
        found = payload["suggestions"]["suggestions"]
        quote = next(s for s in found if s["__typename"] == "ClaimSuggestion" and s["quoteType"] == "DIRECT")
        assert quote["speaker"]["name"] == "Rosa Lima" and quote["create"]["quoteType"] == "DIRECT"
        killed = next(s for s in found if s["__typename"] == "QuantitySuggestion")
        assert killed["quantity"] == {"amount": None, "lowerBound": 12.0, "approximation": "AT_LEAST"}
        assert killed["createKind"] == "incident" and killed["create"]["fatalities"]["approximation"] == "AT_LEAST"

        for kind, s in (("Claim", quote), ("Incident", killed)):
            mutation = f"mutation($input: Create{kind}Input!) {{ create{kind}(input: $input) {{ userErrors {{ code path }} }} }}"
            created = await client.post(
                "/graphql", json={"query": mutation, "variables": {"input": s["create"]}}, headers=bearer(keys["write"])
            )
            assert created.json()["data"][f"create{kind}"]["userErrors"] == [], created.text

        missing = await client.post(
            "/graphql",
            json={"query": SUGGEST, "variables": {"article": new_id("article")}},
            headers=bearer(keys["write"]),
        )
        errors = missing.json()["data"]["suggestFacts"]["userErrors"]
        assert [(e["path"], e["code"]) for e in errors] == [(["article"], "NOT_FOUND")]
        anonymous = await client.post("/graphql", json={"query": SUGGEST, "variables": {"article": article}})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
