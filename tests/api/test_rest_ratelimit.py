"""Rate limits shared by two server processes through one Redis: a key's window is spent across
both, then 429 with Retry-After, a problem body and RateLimit headers (GraphQL-shaped on /graphql);
anonymous callers are limited per address; without Redis each process still limits on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from api.embedded import free_port
from db import keys
from tests.services import ServerProcess, server_process, server_processes

pytestmark = pytest.mark.slow

KEY_LIMIT, ANON_LIMIT = 10, 7


def _env(database_url: str, redis_url: str) -> dict[str, str]:
    # Limits no other test uses: counters are named by their policy, so these start from zero.
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_KEY": str(KEY_LIMIT),
        "RATE_LIMIT_ANONYMOUS": str(ANON_LIMIT),
        "RATE_LIMIT_WINDOW_SECONDS": "120",
    }


@pytest.fixture(scope="module")
def two_servers(database_url: str, redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = _env(database_url, redis_url)
    with server_processes(env, env) as (a, b):
        yield a, b


def _limited(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 120
    assert r.headers["ratelimit"].endswith(f";r=0;t={retry_after}")
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.anyio
async def test_a_keys_window_is_shared_by_both_processes(
    two_servers: tuple[ServerProcess, ServerProcess], conn: asyncpg.Connection[Any]
) -> None:
    a, b = two_servers
    _, secret = await keys.create(conn, name="limited", scope="read")
    auth = {"Authorization": f"Bearer {secret}"}
    remaining = []
    async with httpx.AsyncClient(timeout=10, headers=auth) as client:
        for i in range(KEY_LIMIT):
            r = await client.get((a if i % 2 else b).url + "/v1/actors", params={"limit": 1})
            assert r.status_code == 200, r.text
            assert r.headers["ratelimit-policy"] == f'"per-key";q={KEY_LIMIT};w=120'
            remaining.append(int(r.headers["ratelimit"].split(";r=")[1].split(";")[0]))
        assert remaining == list(range(KEY_LIMIT - 1, -1, -1)), "one count across both processes"
        for server in (a, b):
            body = _limited(await client.get(server.url + "/v1/actors"))
            assert body["code"] == "RATE_LIMITED" and body["type"].endswith("/rate-limited")
            assert body["status"] == 429 and "rate limit" in body["detail"]
        quota = await client.get(a.url + "/v1/quota")
        assert quota.status_code == 429
    async with httpx.AsyncClient(timeout=10) as anonymous:
        r = await anonymous.get(a.url + "/v1/actors")
        assert r.status_code == 200, "another caller has its own window"


@pytest.mark.anyio
async def test_anonymous_callers_are_limited_per_address_and_graphql_answers_in_kind(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    async with httpx.AsyncClient(timeout=10) as client:
        statuses = [
            (await client.get((a if i % 2 else b).url + "/v1/claims")).status_code for i in range(ANON_LIMIT + 5)
        ]
        # The previous test may have spent one anonymous request already.
        assert statuses.count(200) in (ANON_LIMIT - 1, ANON_LIMIT) and statuses[-1] == 429
        graphql = await client.post(b.url + "/graphql", json={"query": "{ __typename }"})
        assert graphql.status_code == 429
        error = graphql.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["message"]
        health = await client.get(a.url + "/healthz")
        assert health.status_code == 200, "health checks are not rate limited"


def test_without_redis_each_process_limits_alone(database_url: str, tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    log = tmp_path / "server.log"
    with (
        server_process(_env(database_url, dead_redis), log_path=log) as server,
        httpx.Client(base_url=server.url, timeout=10) as c,
    ):
        quota = c.get("/v1/quota", headers={"X-Request-Id": "quota-check-1"})
        assert quota.status_code == 200 and quota.json()["backend"] == "local"
        assert quota.json()["remaining"] == ANON_LIMIT - 1
        statuses = [c.get("/v1/actors").status_code for _ in range(ANON_LIMIT + 1)]
        assert statuses == [200] * (ANON_LIMIT - 1) + [429, 429]
    lines = [orjson.loads(x) for x in log.read_text().splitlines() if x.startswith('{"ts"') and '"access"' in x]
    mine = [x for x in lines if x["requestId"] == "quota-check-1"]
    assert mine and mine[0]["path"] == "/v1/quota" and mine[0]["status"] == 200 and mine[0]["durationMs"] >= 0


def test_development_answers_more_than_a_person_sends_by_hand(settings: Any) -> None:
    from dataclasses import replace

    from api.settings import DEVELOPMENT_RATE_LIMIT
    from tests.services import LiveServer

    live = LiveServer(replace(settings, environment="development", rate_limit_anonymous=None)).start()
    try:
        with httpx.Client(base_url=live.url, timeout=10) as client:
            statuses = {client.get("/v1/actors", params={"limit": 1}).status_code for _ in range(80)}
            policy = client.get("/v1/quota").headers["ratelimit-policy"]
    finally:
        live.stop()
    assert statuses == {200} and f"q={DEVELOPMENT_RATE_LIMIT};" in policy
