"""The recall rules, over real HTTP: while an article is withheld, read-scope and anonymous callers
get it as a stub and do not get the facts whose every reference points into it — by id, in lists
and relations, in search, as of a time before the recall, through GraphQL's planned path and its
resolvers, and on a cache hit made before the recall — while write keys still read everything."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.api.cached_server import eventually
from tests.api.history import database_now
from tests.api.live_events import api_key, bearer, post
from tests.factories import quote_ref
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

BODY = "Zephyrine harbor talks resumed on Monday. Officials denied any blockade of the port."
ARTICLE_QUERY = """query($id: ID!, $at: DateTime) {
  article(id: $id, asOf: $at) { id pubStatus headline body claims(first: 10) { nodes { id } totalCount } }
}"""


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    return {scope: asyncio.run(api_key(database_url, scope)) for scope in ("read", "write")}


async def test_a_withheld_article_is_a_stub_and_its_single_sourced_facts_are_gone_for_readers(
    server: LiveServer, resolvers: LiveServer, cached_server: LiveServer, database_url: str, keys: dict[str, str]
) -> None:
    write = keys["write"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        withheld = await post(
            client, "/v1/articles", {"uri": "urn:test:recall-a", "headline": "Zephyrine talks", "body": BODY}, write
        )
        other = await post(
            client, "/v1/articles", {"uri": "urn:test:recall-b", "headline": "Port", "body": BODY}, write
        )
        only = await post(
            client, "/v1/claims",
            {"statement": "Talks resumed", "quoteType": "assertion", "references": [quote_ref(withheld, "talks resumed")]},
            write,
        )  # fmt: skip
        both = await post(
            client, "/v1/claims",
            {"statement": "No blockade", "quoteType": "assertion",
             "references": [quote_ref(withheld, "denied any blockade"), quote_ref(other, "denied any blockade")]},
            write,
        )  # fmt: skip
        before = await database_now(database_url)
        # Readers' cache entries made before the recall.
        async with httpx.AsyncClient(base_url=cached_server.url, timeout=10) as cached:
            for path in (
                f"/v1/articles/{withheld['id']}",
                f"/v1/claims/{only['id']}",
                f"/v1/claims?article={withheld['id']}",
            ):
                assert (await cached.get(path)).status_code == 200
                assert (await cached.get(path)).headers.get("x-cache", "").startswith("hit")

            r = await client.patch(
                f"/v1/articles/{withheld['id']}", json={"pubStatus": "withheld"}, headers=bearer(write)
            )
            assert r.status_code == 200, r.text

            async def stub_served() -> bool:
                doc = (await cached.get(f"/v1/articles/{withheld['id']}")).json()
                return doc["headline"] is None

            await eventually(stub_served)
            assert (await cached.get(f"/v1/claims/{only['id']}")).status_code == 404
            listed = (await cached.get("/v1/claims", params={"article": withheld["id"]})).json()["data"]
            assert [c["id"] for c in listed] == [both["id"]]

        for who in ({}, bearer(keys["read"])):
            stub = (await client.get(f"/v1/articles/{withheld['id']}", headers=who)).json()
            assert stub["pubStatus"] == "withheld" and stub["id"] == withheld["id"] and stub["uri"] == withheld["uri"]
            assert stub["headline"] is None and stub["body"] is None and stub["summary"] is None
            assert (await client.get(f"/v1/claims/{only['id']}", headers=who)).status_code == 404
            assert (await client.get(f"/v1/articles/{withheld['id']}/revisions", headers=who)).status_code == 404
            found = (await client.get("/v1/articles", params={"q": "Zephyrine"}, headers=who)).json()["data"]
            assert withheld["id"] not in [a["id"] for a in found] and other["id"] in [a["id"] for a in found]
            listed = (await client.get(f"/v1/articles/{withheld['id']}/claims", headers=who)).json()["data"]
            assert [c["id"] for c in listed] == [both["id"]]
            past = (await client.get(f"/v1/articles/{withheld['id']}", params={"asOf": before}, headers=who)).json()
            assert past["headline"] is None, "a recall takes content down from the past too"
            assert (
                await client.get(f"/v1/claims/{only['id']}", params={"asOf": before}, headers=who)
            ).status_code == 404
            for base in (server.url, resolvers.url):
                for at in (None, before):
                    body = (
                        await client.post(
                            f"{base}/graphql",
                            json={"query": ARTICLE_QUERY, "variables": {"id": withheld["id"], "at": at}},
                            headers=who,
                        )
                    ).json()
                    article = body["data"]["article"]
                    assert (article["headline"], article["body"], article["pubStatus"]) == (None, None, "WITHHELD")
                    assert article["claims"] == {"nodes": [{"id": both["id"]}], "totalCount": 1}, base
                gone = (
                    await client.post(
                        f"{base}/graphql", json={"query": f'{{ claim(id: "{only["id"]}") {{ id }} }}'}, headers=who
                    )
                ).json()
                assert gone["data"]["claim"] is None and gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"

        # Writers read everything: the full article, the withdrawn claim with its sourcing.
        full = (await client.get(f"/v1/articles/{withheld['id']}", headers=bearer(write))).json()
        assert full["headline"] == "Zephyrine talks" and full["body"] == BODY
        claim = (await client.get(f"/v1/claims/{only['id']}", headers=bearer(write))).json()
        assert claim["sourcing"] == "withdrawn"
        assert (await client.get(f"/v1/claims/{both['id']}", headers=bearer(write))).json()[
            "sourcing"
        ] == "partlyWithdrawn"

        # Released, it is whole again for everyone.
        r = await client.patch(f"/v1/articles/{withheld['id']}", json={"pubStatus": "usable"}, headers=bearer(write))
        assert r.status_code == 200, r.text
        assert (await client.get(f"/v1/articles/{withheld['id']}")).json()["headline"] == "Zephyrine talks"
        assert (await client.get(f"/v1/claims/{only['id']}")).status_code == 200
