"""GraphQL responses from the cache over real HTTP: a hit equals the miss and skips execution,
writes invalidate the queries that read the changed facts (even facts whose ids were not
selected) and the lists they walked, and nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from db import keys, writes
from tests.api.cached_server import cache_state, eventually
from tests.factories import make_actor, make_claim
from tests.services import LiveServer

pytestmark = pytest.mark.anyio

CLAIM = "query($id: ID!) { claim(id: $id) { statement status speaker { name } } }"
ACTOR_CLAIMS = "query($id: ID!) { actor(id: $id) { name claimsAsSpeaker(first: 10) { nodes { status } } } }"


@pytest.fixture
async def client(cached_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=cached_server.url, timeout=10) as c:
        yield c


async def gql(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or {})
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return response


async def test_a_hit_returns_the_bytes_of_the_miss(client: httpx.AsyncClient, conn: asyncpg.Connection[Any]) -> None:
    speaker = await make_actor(conn)
    claim = await make_claim(conn, speaker=speaker["id"])
    await asyncio.sleep(0.3)
    first = await gql(client, CLAIM, id=claim["id"])
    second = await gql(client, CLAIM, id=claim["id"])
    assert (cache_state(first), cache_state(second)) == ("miss", "hit")
    assert second.content == first.content
    assert first.json()["data"]["claim"]["speaker"]["name"] == speaker["name"]


async def test_changing_a_fact_whose_id_was_not_selected_invalidates_the_query(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    speaker = await make_actor(conn)
    claim = await make_claim(conn, speaker=speaker["id"])
    unrelated = await make_claim(conn)
    await asyncio.sleep(0.3)
    await gql(client, CLAIM, id=claim["id"])
    await gql(client, CLAIM, id=unrelated["id"])
    await writes.update(conn, "actor", speaker["id"], {"name": "Renamed Speaker"}, changed_by="test")

    async def renamed() -> bool:
        data = (await gql(client, CLAIM, id=claim["id"])).json()["data"]
        return bool(data["claim"]["speaker"]["name"] == "Renamed Speaker")

    await eventually(renamed)
    assert cache_state(await gql(client, CLAIM, id=unrelated["id"])) == "hit"


async def test_a_new_fact_invalidates_the_connections_that_list_its_kind(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    speaker = await make_actor(conn)
    await make_claim(conn, speaker=speaker["id"])
    await asyncio.sleep(0.3)
    first = await gql(client, ACTOR_CLAIMS, id=speaker["id"])
    assert len(first.json()["data"]["actor"]["claimsAsSpeaker"]["nodes"]) == 1
    assert cache_state(await gql(client, ACTOR_CLAIMS, id=speaker["id"])) == "hit"
    await make_claim(conn, speaker=speaker["id"])

    async def two() -> bool:
        data = (await gql(client, ACTOR_CLAIMS, id=speaker["id"])).json()["data"]
        return len(data["actor"]["claimsAsSpeaker"]["nodes"]) == 2

    await eventually(two)


async def test_callers_of_different_scopes_never_share_an_entry(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    claim = await make_claim(conn)
    _, secret = await keys.create(conn, name="gql-cache", scope="admin")
    await asyncio.sleep(0.3)
    await gql(client, CLAIM, id=claim["id"])
    assert cache_state(await gql(client, CLAIM, id=claim["id"])) == "hit"
    admin = {"Authorization": f"Bearer {secret}"}
    assert cache_state(await gql(client, CLAIM, admin, id=claim["id"])) == "miss"


async def test_mutations_and_errors_are_never_cached(client: httpx.AsyncClient, conn: asyncpg.Connection[Any]) -> None:
    bad = {"query": "query($id: ID!) { claim(id: $id) { statement } }", "variables": {"id": "clm_nope"}}
    for _ in range(2):
        response = await client.post("/graphql", json=bad)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert cache_state(response) == "miss"


async def test_a_mutation_is_read_back_at_once(client: httpx.AsyncClient, conn: asyncpg.Connection[Any]) -> None:
    claim = await make_claim(conn)
    _, secret = await keys.create(conn, name="gql-writer", scope="write")
    auth = {"Authorization": f"Bearer {secret}"}
    await asyncio.sleep(0.3)
    mutation = "mutation($id: ID!, $patch: ClaimPatch!) { updateClaim(id: $id, patch: $patch) { userErrors { code } } }"
    for status in ("DISPUTED", "CORROBORATED", "DENIED") * 2:
        await gql(client, CLAIM, auth, id=claim["id"])  # cached
        done = await gql(client, mutation, auth, id=claim["id"], patch={"status": status})
        assert done.json()["data"]["updateClaim"]["userErrors"] == []
        assert cache_state(done) == "miss"
        # No waiting: the mutation's response left only after this process applied its event.
        assert (await gql(client, CLAIM, auth, id=claim["id"])).json()["data"]["claim"]["status"] == status


async def test_reads_do_not_wait_for_the_invalidator(client: httpx.AsyncClient, conn: asyncpg.Connection[Any]) -> None:
    """Only a write's answer waits for this process' cache to apply the events (read-your-writes).
    REST's cache layer once held every successful POST that way, GraphQL queries included: with
    the events table locked, each read then waited out the invalidator's two-second bound."""
    claim = await make_claim(conn, speaker=(await make_actor(conn))["id"])
    await gql(client, CLAIM, id=claim["id"])
    async with conn.transaction():
        await conn.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        for _ in range(2):  # a miss, then a hit
            answer = await client.post("/graphql", json={"query": CLAIM, "variables": {"id": claim["id"]}}, timeout=1.5)
            assert answer.status_code == 200 and answer.json()["data"]["claim"]["statement"] == claim["statement"]
        typename = await client.post("/graphql", json={"query": "{ __typename }"}, timeout=1.5)
        assert typename.json()["data"] == {"__typename": "Query"}
