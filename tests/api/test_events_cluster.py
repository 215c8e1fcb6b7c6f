"""Two real ``newsfacts serve`` processes sharing one fresh database and the session's Redis: writes
through one reach SSE clients on the other; resuming loses nothing; a Redis outage loses nothing;
killing the relay leader hands over; concurrent writers are seen in one order by everyone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from api.embedded import EmbeddedRedis
from db.migrate import migrate
from db.pool import connect
from tests.api.live_events import (
    SSEReader,
    api_key,
    bearer,
    create_actor,
    graphql_ws,
    last_sequence,
    next_message,
)
from tests.services import ServerProcess

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster_database(postgres_server_url: str) -> Iterator[str]:
    """A database of its own, so that only this module's two processes contend for the relay."""
    name = f"nf_cluster_{uuid.uuid4().hex[:10]}"
    base, _, query = postgres_server_url.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

    async def setup() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await connect(url)
        await migrate(conn)
        await conn.close()

    async def teardown() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(setup())
    yield url
    asyncio.run(teardown())


class Cluster:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.a = self._start("a")
        self.b = self._start("b")

    def _start(self, name: str) -> ServerProcess:
        return ServerProcess(self.env, log_path=self.logs / f"server-{name}.log").start()

    def ensure_running(self) -> None:
        for attr in ("a", "b"):
            proc: ServerProcess = getattr(self, attr)
            if proc.process is None or proc.process.poll() is not None:
                setattr(self, attr, self._start(attr))

    def stop(self) -> None:
        # Both at once: each may take a few seconds to close its streams.
        procs = [p.process for p in (self.a, self.b) if p.process is not None and p.process.poll() is None]
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture(scope="module")
def cluster(cluster_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = {
        "DATABASE_URL": cluster_database,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_KEY": "1000000",
        "RATE_LIMIT_ANONYMOUS": "1000000",
        "LOG_LEVEL": "info",
    }
    c = Cluster(env, tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def cluster_key(cluster_database: str) -> str:
    return asyncio.run(api_key(cluster_database, "write"))


@pytest.fixture
async def running(cluster: Cluster) -> AsyncIterator[Cluster]:
    cluster.ensure_running()
    yield cluster


async def _relay_state(database_url: str) -> dict[str, Any]:
    conn = await connect(database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM relay_state")
        last = await conn.fetchval("SELECT last FROM event_counter")
    finally:
        await conn.close()
    assert row is not None
    return {**dict(row), "last": last}


async def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.1)


async def test_write_through_one_process_reaches_sse_and_graphql_on_the_other(
    running: Cluster, cluster_key: str
) -> None:
    query = "subscription { events(types: [ACTOR_CREATED]) { sequence objectId fact { ... on Actor { name } } } }"
    async with httpx.AsyncClient(timeout=10) as client, graphql_ws(running.b.url) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        async with SSEReader(client, f"{running.b.url}/v1/events/stream") as on_b:
            await asyncio.sleep(0.2)  # the subscription starts live: let it begin before the write
            actor = await create_actor(client, running.a.url, cluster_key)
            got = await on_b.wait_for(1)
            assert got[0]["objectId"] == actor["id"] and got[0]["data"]["name"] == actor["name"]
            message = await next_message(ws)
            assert message["type"] == "next", message
            event = message["payload"]["data"]["events"]
            assert event["objectId"] == actor["id"] and event["fact"]["name"] == actor["name"]
            assert event["sequence"] == got[0]["sequence"]


async def test_resume_with_last_cursor_gets_exactly_the_missed_events(running: Cluster, cluster_key: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with SSEReader(client, f"{running.b.url}/v1/events/stream") as first:
            await create_actor(client, running.a.url, cluster_key)
            cursor = (await first.wait_for(1))[-1]["sequence"]
        missed = [await create_actor(client, running.a.url, cluster_key) for _ in range(5)]
        headers = {"Last-Event-ID": str(cursor)}
        async with SSEReader(client, f"{running.b.url}/v1/events/stream", headers=headers) as again:
            live = await create_actor(client, running.a.url, cluster_key)
            got = await again.wait_for(6)
            await asyncio.sleep(0.3)
        assert [e["objectId"] for e in again.events] == [m["id"] for m in missed] + [live["id"]]
        assert [e["sequence"] for e in got] == list(range(cursor + 1, cursor + 7))


async def test_writes_while_redis_is_down_reach_subscribers(
    running: Cluster, cluster_key: str, cluster_database: str, redis_server: EmbeddedRedis | None, redis_url: str
) -> None:
    if redis_server is None:
        pytest.skip("needs the embedded Redis to stop and start it")
    async with httpx.AsyncClient(timeout=10) as client:
        async with SSEReader(client, f"{running.b.url}/v1/events/stream") as on_b:
            start = await last_sequence(client, running.a.url)
            redis_server.stop()
            try:
                during = [await create_actor(client, running.a.url, cluster_key) for _ in range(4)]
            finally:
                redis_server.start()
            after = await create_actor(client, running.a.url, cluster_key)
            got = await on_b.wait_for(5, timeout=15)
            assert [e["objectId"] for e in got] == [d["id"] for d in during] + [after["id"]]
            assert [e["sequence"] for e in got] == list(range(start + 1, start + 6))

        async def relay_caught_up() -> bool:
            state = await _relay_state(cluster_database)
            return bool(state["published_sequence"] == state["last"])

        await _until(relay_caught_up, 15, "the relay publishes what the outbox kept")
        state = await _relay_state(cluster_database)
        r = aioredis.Redis.from_url(redis_url)
        try:
            newest = await r.xrevrange(state["stream"], count=1)
        finally:
            await r.aclose()
        assert newest and newest[0][0] == f"{state['last']}-0".encode()


async def test_killing_the_relay_process_hands_over(running: Cluster, cluster_key: str, cluster_database: str) -> None:
    async def has_leader() -> bool:
        leader = (await _relay_state(cluster_database))["leader"] or ""
        return leader.endswith(f":{running.a.process.pid}") or leader.endswith(f":{running.b.process.pid}")  # type: ignore[union-attr]

    await _until(has_leader, 10, "one of the two processes leads the relay")
    leader = (await _relay_state(cluster_database))["leader"]
    doomed, survivor = (
        (running.a, running.b) if leader.endswith(f":{running.a.process.pid}") else (running.b, running.a)
    )  # type: ignore[union-attr]
    doomed.kill(signal.SIGKILL)

    async def survivor_leads() -> bool:
        return bool((await _relay_state(cluster_database))["leader"].endswith(f":{survivor.process.pid}"))  # type: ignore[union-attr]

    await _until(survivor_leads, 10, "the surviving process takes the relay over")
    async with httpx.AsyncClient(timeout=10) as client, SSEReader(client, f"{survivor.url}/v1/events/stream") as sse:
        actor = await create_actor(client, survivor.url, cluster_key)
        assert (await sse.wait_for(1))[0]["objectId"] == actor["id"]

    async def published() -> bool:
        state = await _relay_state(cluster_database)
        return bool(state["published_sequence"] == state["last"])

    await _until(published, 10, "the new leader publishes")


async def test_concurrent_writers_are_seen_in_one_order_by_every_consumer(running: Cluster, cluster_key: str) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        start = await last_sequence(client, running.a.url)
        async with (
            SSEReader(client, f"{running.a.url}/v1/events/stream") as on_a,
            SSEReader(client, f"{running.b.url}/v1/events/stream") as on_b,
        ):

            async def writer(base: str, n: int) -> None:
                for _ in range(n):
                    r = await client.post(
                        f"{base}/v1/actors",
                        json={"kind": "person", "name": uuid.uuid4().hex},
                        headers=bearer(cluster_key),
                    )
                    assert r.status_code == 201, r.text

            await asyncio.gather(*(writer(base, 10) for base in [running.a.url, running.b.url] * 3))
            total = 60
            seen_a = [e["sequence"] for e in await on_a.wait_for(total, timeout=20)]
            seen_b = [e["sequence"] for e in await on_b.wait_for(total, timeout=20)]
        polled = (await client.get(f"{running.b.url}/v1/events", params={"after": start, "limit": 1000})).json()
        expected = list(range(start + 1, start + total + 1))
        assert seen_a == seen_b == [e["sequence"] for e in polled["data"]] == expected
