"""The whole graph as of a time, over real HTTP: an article's claims with their speakers read at
each moment of a history (a rename, a correction, a new claim, a retraction) give exactly that
moment's state — through GraphQL's planned path, its resolvers and REST — and paging an asOf
connection while writes land stays in the same past."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.history import database_now
from tests.api.live_events import api_key, bearer
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

ARTICLE_CLAIMS = """
query($id: ID!, $at: DateTime) {
  article(id: $id, asOf: $at) {
    id headline
    claims(first: 20) { nodes { id statement status retractedAt speaker { id name } } }
  }
}"""


@pytest.fixture(scope="module")
def write_key(database_url: str) -> str:
    return asyncio.run(api_key(database_url, "write"))


class Writer:
    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client, self.headers = client, bearer(key)

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        r = await self.client.request(method, path, json=body, params=params, headers=self.headers)
        assert r.status_code in (200, 201), r.text
        doc: dict[str, Any] = r.json()
        return doc

    async def claim(self, statement: str, speaker: str, article: dict[str, Any]) -> dict[str, Any]:
        ref = quote_ref(article, statement.split()[0])
        body = {"statement": statement, "quoteType": "assertion", "speaker": speaker, "references": [ref]}
        return await self.send("POST", "/v1/claims", body)


def _expected(claims: list[tuple[str, str, str, bool]]) -> list[dict[str, Any]]:
    return [{"id": i, "statement": s, "speaker": n, "retracted": r} for i, s, n, r in sorted(claims)]


def _from_graphql(article: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": c["id"],
            "statement": c["statement"],
            "speaker": c["speaker"]["name"],
            "retracted": c["retractedAt"] is not None,
        }
        for c in article["claims"]["nodes"]
    ]


def _from_rest(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": c["id"],
            "statement": c["statement"],
            "speaker": c["speaker"]["name"],
            "retracted": c["retractedAt"] is not None,
        }
        for c in page["data"]
    ]


async def test_an_articles_claims_and_speakers_read_as_of_each_moment(
    server: LiveServer, resolvers: LiveServer, database_url: str, write_key: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        w = Writer(client, write_key)
        speaker = await w.send("POST", "/v1/actors", {"kind": "person", "name": "Ana Before"})
        article = await w.send(
            "POST", "/v1/articles",
            {"uri": "urn:test:as-of", "headline": "Harbor talks", "body": "Alpha said talks began. Gamma said no ships."},
        )  # fmt: skip
        first = await w.claim("Alpha talks began", speaker["id"], article)
        third = await w.claim("Gamma no ships", speaker["id"], article)
        moments: list[tuple[str, list[tuple[str, str, str, bool]]]] = []
        state = {first["id"]: ("Alpha talks began", False), third["id"]: ("Gamma no ships", False)}
        name = "Ana Before"

        def snapshot() -> list[tuple[str, str, str, bool]]:
            return [(i, s, name, r) for i, (s, r) in state.items()]

        moments.append((await database_now(database_url), snapshot()))
        await w.send("PATCH", f"/v1/actors/{speaker['id']}", {"name": "Ana After"})
        name = "Ana After"
        moments.append((await database_now(database_url), snapshot()))
        await w.send(
            "POST", f"/v1/claims/{first['id']}/corrections",
            {"changes": {"statement": "Alpha talks resumed"}, "reason": "misheard"},
        )  # fmt: skip
        state[first["id"]] = ("Alpha talks resumed", False)
        moments.append((await database_now(database_url), snapshot()))
        second = await w.claim("Alpha second source", speaker["id"], article)
        state[second["id"]] = ("Alpha second source", False)
        moments.append((await database_now(database_url), snapshot()))
        await w.send("DELETE", f"/v1/claims/{third['id']}", reason="fabricated")
        state[third["id"]] = ("Gamma no ships", True)
        moments.append((await database_now(database_url), snapshot()))

        for n, (at, claims) in enumerate(moments):
            expected = _expected(claims)
            variables = {"id": article["id"], "at": at}
            for base in (server.url, resolvers.url):
                r = await client.post(
                    f"{base}/graphql", json={"query": ARTICLE_CLAIMS, "variables": variables}, headers=w.headers
                )
                body = r.json()
                assert "errors" not in body, body
                assert _from_graphql(body["data"]["article"]) == expected, (n, base)
            rest = await client.get(
                f"/v1/articles/{article['id']}/claims", params={"asOf": at, "expand": "speaker", "limit": 20},
                headers=w.headers,
            )  # fmt: skip
            assert rest.status_code == 200, rest.text
            assert _from_rest(rest.json()) == expected, n
            one = await client.get(
                f"/v1/claims/{first['id']}", params={"asOf": at, "expand": "speaker"}, headers=w.headers
            )
            assert one.status_code == 200 and one.json()["speaker"]["name"] == claims[0][2], n

        # Before the article existed, it is not there, and neither is anything under it.
        before = await client.post(
            "/graphql",
            json={"query": ARTICLE_CLAIMS, "variables": {"id": article["id"], "at": "2001-01-01T00:00:00Z"}},
            headers=w.headers,
        )
        body = before.json()
        assert body["data"]["article"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

        # A claim's speaker as of the first moment has the old name, by id and through a list.
        at0 = moments[0][0]
        query = "query($id: ID!, $at: DateTime) { claim(id: $id, asOf: $at) { speaker { name } } }"
        for base in (server.url, resolvers.url):
            r = await client.post(f"{base}/graphql", json={"query": query, "variables": {"id": first["id"], "at": at0}})
            assert r.json()["data"]["claim"]["speaker"]["name"] == "Ana Before"


async def test_paging_an_as_of_connection_while_writes_land_stays_in_the_past(
    server: LiveServer, resolvers: LiveServer, database_url: str, write_key: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        w = Writer(client, write_key)
        for n in range(5):
            await w.send("POST", "/v1/actors", {"kind": "person", "name": f"Pager {n}"})
        at = await database_now(database_url)
        whole = (await client.get("/v1/actors", params={"asOf": at, "limit": 100})).json()["data"]
        query = """query($at: DateTime, $after: String) {
          actors(asOf: $at, first: 3, after: $after) { nodes { id name } pageInfo { hasNextPage endCursor } } }"""
        for base in (server.url, resolvers.url):
            seen: list[dict[str, Any]] = []
            after = None
            variables: dict[str, Any] = {"at": at}
            while True:
                r = await client.post(
                    f"{base}/graphql", json={"query": query, "variables": {**variables, "after": after}}
                )
                page = r.json()["data"]["actors"]
                seen.extend(page["nodes"])
                # Writes land between pages: new actors, and a rename of one already seen.
                created = await w.send("POST", "/v1/actors", {"kind": "person", "name": "Latecomer"})
                await w.send("PATCH", f"/v1/actors/{seen[0]['id']}", {"name": "Renamed later"})
                assert created["id"] not in {n["id"] for n in seen}
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
                variables = {"at": None}  # the cursor carries the time: asOf may be left out
            assert [(a["id"], a["name"]) for a in seen] == [(a["id"], a["name"]) for a in whole], base

        # REST: the next page's cursor alone keeps the time; asOf of another time is refused.
        first = (await client.get("/v1/actors", params={"asOf": at, "limit": 2})).json()
        rest = (await client.get("/v1/actors", params={"cursor": first["nextCursor"], "limit": 100})).json()
        assert [a["id"] for a in first["data"] + rest["data"]] == [a["id"] for a in whole]
        other = await client.get("/v1/actors", params={"cursor": first["nextCursor"], "asOf": "2001-01-01T00:00:00Z"})
        assert other.status_code == 400, other.text
        assert other.json()["errors"][0]["code"] == "INVALID_CURSOR", other.text
