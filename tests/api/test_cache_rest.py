"""The REST response cache over real HTTP: hits equal misses, writes invalidate exactly what they
touch, scopes never share entries, concurrent misses compute once, and Redis may fail."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from api.embedded import EmbeddedRedis
from db import keys, writes
from tests.api.cached_server import cache_state, caught_up, eventually
from tests.factories import make_actor, make_claim
from tests.services import LiveServer

pytestmark = pytest.mark.anyio


async def get(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    response = await client.get(path, headers=headers)
    assert response.status_code in (200, 304), response.text
    return response


@pytest.fixture
async def client(cached_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=cached_server.url, timeout=10) as c:
        yield c


async def test_a_hit_returns_the_same_body_as_the_miss(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    claim = await make_claim(conn)
    await caught_up(client)  # the invalidator has applied the creation, or the first store is refused
    first = await get(client, f"/v1/claims/{claim['id']}")
    second = await get(client, f"/v1/claims/{claim['id']}")
    assert cache_state(first) == "miss"
    assert cache_state(second) == "hit"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers.get("x-request-id") != first.headers.get("x-request-id")


async def test_a_conditional_request_on_a_hit_answers_304(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    claim = await make_claim(conn)
    await caught_up(client)
    first = await get(client, f"/v1/claims/{claim['id']}")
    await get(client, f"/v1/claims/{claim['id']}")
    again = await get(client, f"/v1/claims/{claim['id']}", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_a_write_invalidates_the_fact_and_lists_showing_it_but_not_unrelated_entries(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    speaker = await make_actor(conn)
    claim = await make_claim(conn, speaker=speaker["id"])
    other = await make_claim(conn)
    await caught_up(client)
    paths = [f"/v1/claims/{claim['id']}", f"/v1/claims?speaker={speaker['id']}", f"/v1/claims/{other['id']}"]
    for path in paths:
        await get(client, path)
        assert cache_state(await get(client, path)) == "hit"

    await writes.update(conn, "claim", claim["id"], {"status": "disputed"}, changed_by="test")

    async def fact_updated() -> bool:
        return (await get(client, paths[0])).json()["status"] == "disputed"

    await eventually(fact_updated)
    listed = (await get(client, paths[1])).json()["data"]
    assert [c["status"] for c in listed] == ["disputed"]
    unrelated = await get(client, paths[2])
    assert cache_state(unrelated) == "hit"
    # Once seen, the new value stays: no older copy resurfaces from either tier.
    for _ in range(5):
        assert (await get(client, paths[0])).json()["version"] == 2


async def test_a_new_fact_invalidates_cached_lists_of_its_kind(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    speaker = await make_actor(conn)
    await make_claim(conn, speaker=speaker["id"])
    await caught_up(client)
    path = f"/v1/actors/{speaker['id']}/claims"
    assert len((await get(client, path)).json()["data"]) == 1
    assert cache_state(await get(client, path)) == "hit"
    await make_claim(conn, speaker=speaker["id"])

    async def two_claims() -> bool:
        return len((await get(client, path)).json()["data"]) == 2

    await eventually(two_claims)


async def test_entries_are_never_shared_between_scopes(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    claim = await make_claim(conn)
    _, secret = await keys.create(conn, name="cache-test", scope="read")
    await caught_up(client)
    path = f"/v1/claims/{claim['id']}"
    await get(client, path)
    assert cache_state(await get(client, path)) == "hit"
    keyed = await get(client, path, Authorization=f"Bearer {secret}")
    assert cache_state(keyed) == "miss"
    assert cache_state(await get(client, path, Authorization=f"Bearer {secret}")) == "hit"


async def test_concurrent_misses_compute_once(client: httpx.AsyncClient, conn: asyncpg.Connection[Any]) -> None:
    claim = await make_claim(conn)
    await caught_up(client)
    responses = await asyncio.gather(
        *(get(client, f"/v1/claims/{claim['id']}?expand=references.article") for _ in range(20))
    )
    states = [cache_state(r) for r in responses]
    assert states.count("miss") == 1, states
    assert len({r.content for r in responses}) == 1


async def test_redis_outage_serves_without_errors_and_caching_resumes(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any], redis_server: EmbeddedRedis | None
) -> None:
    if redis_server is None:
        pytest.skip("needs the embedded Redis to stop and start it")
    claims = [await make_claim(conn) for _ in range(3)]
    await caught_up(client)
    redis_server.stop()
    try:
        statuses = []
        for _ in range(3):
            for claim in claims:
                statuses.append((await client.get(f"/v1/claims/{claim['id']}")).status_code)
        statuses.append((await client.get("/v1/claims?limit=5")).status_code)
        assert all(s == 200 for s in statuses), statuses
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    finally:
        redis_server.start()
    fresh = await make_claim(conn)
    await caught_up(client)

    async def redis_tier_used() -> bool:
        await get(client, f"/v1/claims/{fresh['id']}")
        ready = await client.get("/readyz")
        return (
            ready.json()["status"] == "ready" and cache_state(await get(client, f"/v1/claims/{fresh['id']}")) == "hit"
        )

    await eventually(redis_tier_used, timeout=10)
    back = aioredis.Redis.from_url(redis_server.url)
    try:
        assert [k async for k in back.scan_iter("nf:c:*", count=1000)], "entries are stored in Redis again"
    finally:
        await back.aclose()


async def test_a_write_through_the_api_is_read_back_at_once(
    client: httpx.AsyncClient, conn: asyncpg.Connection[Any]
) -> None:
    claim = await make_claim(conn)
    _, secret = await keys.create(conn, name="cache-writer", scope="write")
    auth = {"Authorization": f"Bearer {secret}"}
    await caught_up(client)
    path = f"/v1/claims/{claim['id']}"
    for status in ("disputed", "corroborated", "denied", "reported") * 3:
        await get(client, path, **auth)  # cached
        patched = await client.patch(path, json={"status": status}, headers=auth)
        assert patched.status_code == 200, patched.text
        # No waiting: the write's response left only after this process applied its event.
        assert (await get(client, path, **auth)).json()["status"] == status
