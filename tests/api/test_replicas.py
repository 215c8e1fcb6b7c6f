"""Reads on a real streaming replica (pg_basebackup of a primary, both from pgserver's binaries)
through two ``newsfacts serve`` processes: reads land on the replica by its own statistics; a
read with a write's consistency token sees the write on either process even while the replica's
replay is paused; a token-less read says how stale it is; stopping the replica under load gives no
5xx, moves reads to the primary, and loses no event for subscribers or webhooks."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.embedded_cluster import EmbeddedCluster
from api.reads.context import Token
from db.migrate import migrate
from db.pool import connect
from db.seed import seed
from tests.api.live_events import SSEReader, api_key, bearer, graphql_ws, next_message
from tests.api.webhook_receiver import Receiver, WorkerProcess, eventually, worker_env
from tests.services import ServerProcess, run

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SEED_ACTOR = "act_01K8B1E2G12Z4MP14DZVS18EHJ"
NO_CACHE = {"Cache-Control": "no-cache"}  # past the response cache: these reads must reach PostgreSQL


@dataclass
class Replicated:
    cluster: EmbeddedCluster
    primary: str
    replica: str
    redis: str
    write_key: str
    admin_key: str
    a: ServerProcess
    b: ServerProcess
    worker: WorkerProcess


async def _prepare(primary: str, replica: str) -> None:
    admin = await asyncpg.connect(primary.rsplit("/", 1)[0] + "/postgres")
    await admin.execute("CREATE DATABASE newsfacts")
    await admin.close()
    conn = await connect(primary)
    await migrate(conn)
    await seed(conn)
    await conn.close()

    async def replicated() -> bool:
        try:
            standby = await asyncpg.connect(replica)
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            return bool(await standby.fetchval("SELECT count(*) FROM actors WHERE id = $1", SEED_ACTOR))
        finally:
            await standby.close()

    await eventually(replicated, timeout=20)


@pytest.fixture(scope="module")
def replicated(tmp_root: Path, redis_url: str) -> Iterator[Replicated]:
    """A primary and a streaming replica, two API processes reading from it, and a webhook worker."""
    cluster = EmbeddedCluster(tmp_root / "replicated", fast=True).start()
    cluster.wait_replicating()
    primary, replica = cluster.primary.url("newsfacts"), cluster.standbys[0].url("newsfacts")
    redis = redis_url.rsplit("/", 1)[0] + "/3"  # a Redis database of its own: cache keys are per path
    processes: list[Any] = []
    try:
        run(_prepare(primary, replica))
        env = {
            "DATABASE_URL": primary,
            "DATABASE_REPLICA_URLS": replica,
            "REDIS_URL": redis,
            "REPLICA_MAX_LAG_MS": "60000",  # a paused replica stays in use, so its lag shows
            "REPLICA_WAIT_MS": "300",
            "REPLICA_POLL_MS": "100",
            "RATE_LIMIT_ANONYMOUS": "1000000",
            "RATE_LIMIT_KEY": "1000000",
            "LOG_LEVEL": "warning",
            **worker_env(primary, redis),
        }
        a = ServerProcess(env, log_path=tmp_root / "replicated-a.log").start()
        processes.append(a)
        b = ServerProcess(env, log_path=tmp_root / "replicated-b.log").start()
        processes.append(b)
        worker = WorkerProcess(worker_env(primary, redis)).start()
        processes.append(worker)
        keys = (run(api_key(primary, "write")), run(api_key(primary, "admin")))
        yield Replicated(cluster, primary, replica, redis, *keys, a, b, worker)
    finally:
        for process in reversed(processes):
            if isinstance(process, WorkerProcess):
                process.close()
            else:
                process.stop()
        cluster.stop()


async def _scans(dsn: str) -> int:
    """Index and sequential scans of ``actors`` in this server's own statistics."""
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'actors'"
        )
    finally:
        await conn.close()
    return int(value or 0)


async def _create_actor(client: httpx.AsyncClient, base: str, key: str) -> httpx.Response:
    name = f"Person {uuid.uuid4().hex[:8]}"
    response = await client.post(f"{base}/v1/actors", json={"kind": "person", "name": name}, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response


async def test_reads_run_on_the_replica_by_its_own_statistics(replicated: Replicated) -> None:
    await asyncio.sleep(1.0)  # statistics of the set-up's own reads are flushed by now
    replica_before, primary_before = await _scans(replicated.replica), await _scans(replicated.primary)
    query = "query($n: Int!) { actors(first: $n) { nodes { id name } } }"
    async with httpx.AsyncClient(timeout=10) as client:
        for n in range(1, 16):
            for offset, base in ((0, replicated.a.url), (15, replicated.b.url)):
                rest = await client.get(f"{base}/v1/actors/{SEED_ACTOR}", headers=NO_CACHE)
                assert rest.status_code == 200 and rest.headers["read-source"] == "replica1", rest.headers
                assert int(rest.headers["read-lag-ms"]) < 60_000
                gql = await client.post(f"{base}/graphql", json={"query": query, "variables": {"n": n + offset}})
                assert gql.status_code == 200 and not gql.json().get("errors"), gql.text
                assert gql.headers["x-cache"] == "miss" and gql.headers["read-source"] == "replica1", gql.headers
        metrics = (await client.get(f"{replicated.a.url}/metrics")).text

    async def replica_counted() -> int:
        # Backends flush their statistics when idle, at most every ten seconds.
        return max(0, await _scans(replicated.replica) - replica_before - 59)

    await eventually(replica_counted, timeout=15)
    assert await _scans(replicated.primary) - primary_before < 5, "reads ran on the primary"
    assert 'newsfacts_db_reads_total{target="replica1"}' in metrics
    assert 'newsfacts_replica_up{replica="replica1"} 1.0' in metrics
    assert 'newsfacts_replica_lag_ms{replica="replica1"}' in metrics
    assert 'newsfacts_graphql_operations_total{path="planned"}' in metrics


async def _replay(replica: str, action: str) -> None:
    conn = await asyncpg.connect(replica)
    try:
        await conn.execute(f"SELECT pg_wal_replay_{action}()")
    finally:
        await conn.close()


async def test_a_token_read_sees_the_write_on_any_process_while_replay_is_paused(replicated: Replicated) -> None:
    a, b = replicated.a.url, replicated.b.url
    async with httpx.AsyncClient(timeout=10) as client:
        created = await _create_actor(client, a, replicated.write_key)
        actor = created.json()
        token = created.headers["consistency-token"]
        assert Token.parse(token) is not None, token
        # Read through b (cached there) once the replica has it.
        first = await client.get(f"{b}/v1/actors/{actor['id']}", headers={"Consistency-Token": token})
        assert first.status_code == 200 and first.json()["name"] == actor["name"]

        await _replay(replicated.replica, "pause")
        try:
            patched = await client.patch(
                f"{a}/v1/actors/{actor['id']}",
                json={"name": "Renamed while paused"},
                headers=bearer(replicated.write_key),
            )
            assert patched.status_code == 200, patched.text
            token = patched.headers["consistency-token"]
            for base in (a, b):
                started = time.monotonic()
                fresh = await client.get(f"{base}/v1/actors/{actor['id']}", headers={"Consistency-Token": token})
                elapsed = time.monotonic() - started
                assert fresh.status_code == 200 and fresh.json()["name"] == "Renamed while paused"
                assert fresh.json()["version"] == 2
                # The paused replica cannot have it: the primary answers, or a cache entry computed
                # after the write (the cache refuses older ones to this reader).
                if fresh.headers["x-cache"] == "miss":
                    assert fresh.headers["read-source"] == "primary", fresh.headers
                assert elapsed < 2.0, f"waited {elapsed:.2f}s (bound 0.3 s)"

            # GraphQL: the mutation's token is in extensions; a query sending it back sees the change.
            mutation = (
                'mutation($id: ID!) { updateActor(id: $id, patch: {name: "Renamed by GraphQL"}) { actor { name } } }'
            )
            answer = await client.post(
                f"{a}/graphql",
                json={"query": mutation, "variables": {"id": actor["id"]}},
                headers=bearer(replicated.write_key),
            )
            body = answer.json()
            assert body["data"]["updateActor"]["actor"]["name"] == "Renamed by GraphQL", body
            gql_token = body["extensions"]["consistencyToken"]
            assert Token.parse(gql_token) is not None and answer.headers["consistency-token"] == gql_token
            read = "query($id: ID!) { actor(id: $id) { name version } }"
            got = await client.post(
                f"{b}/graphql",
                json={"query": read, "variables": {"id": actor["id"]}},
                headers={"Consistency-Token": gql_token},
            )
            assert got.json()["data"]["actor"] == {"name": "Renamed by GraphQL", "version": 3}, got.text

            # Without the token the paused replica answers, and says how far behind it is.
            await asyncio.sleep(0.5)
            stale = await client.get(f"{b}/v1/actors/{actor['id']}", headers=NO_CACHE)
            assert stale.headers["read-source"] == "replica1"
            assert stale.json()["name"] == actor["name"]  # the replica has not replayed the renames
            assert int(stale.headers["read-lag-ms"]) >= 300, stale.headers
        finally:
            await _replay(replicated.replica, "resume")

        async def replica_serves_the_token() -> bool:
            r = await client.get(f"{b}/v1/actors/{actor['id']}", headers={"Consistency-Token": gql_token, **NO_CACHE})
            return r.headers.get("read-source") == "replica1" and r.json()["name"] == "Renamed by GraphQL"

        await eventually(replica_serves_the_token, timeout=5)


async def test_stopping_the_replica_under_load_gives_no_5xx_and_loses_no_event(replicated: Replicated) -> None:
    a, b = replicated.a.url, replicated.b.url
    statuses: dict[int, int] = {}
    sources: list[tuple[float, str]] = []
    stop = asyncio.Event()
    writes = 20
    subscription = "subscription { events(types: [ACTOR_CREATED]) { sequence objectId } }"
    async with httpx.AsyncClient(timeout=15) as client:
        admin = {"Authorization": f"Bearer {replicated.admin_key}"}
        receiver = Receiver().start()
        endpoint = await client.post(
            f"{a}/v1/webhook-endpoints", json={"url": receiver.url(), "enabledEvents": ["actor.created"]}, headers=admin
        )
        assert endpoint.status_code == 201, endpoint.text
        try:
            async with SSEReader(client, f"{b}/v1/events/stream?type=actor.created") as sse, graphql_ws(a) as ws:
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
                await asyncio.sleep(0.3)  # the subscription starts live

                async def reader(base: str) -> None:
                    while not stop.is_set():
                        r = await client.get(f"{base}/v1/actors/{SEED_ACTOR}", headers=NO_CACHE)
                        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                        sources.append((time.monotonic(), r.headers.get("read-source", "")))
                        page = await client.get(f"{base}/v1/actors", params={"limit": 5}, headers=NO_CACHE)
                        statuses[page.status_code] = statuses.get(page.status_code, 0) + 1

                async def writer() -> list[str]:
                    ids = []
                    for i in range(writes):
                        ids.append((await _create_actor(client, (a, b)[i % 2], replicated.write_key)).json()["id"])
                        await asyncio.sleep(0.1)
                    return ids

                readers = [asyncio.create_task(reader(base)) for base in (a, b, a, b)]
                written = asyncio.create_task(writer())
                await asyncio.sleep(0.8)
                await asyncio.to_thread(replicated.cluster.standbys[0].stop, "fast")
                stopped_at = time.monotonic()
                ids = await written
                await asyncio.sleep(0.5)
                stop.set()
                await asyncio.gather(*readers)

                assert not any(s >= 500 for s in statuses), statuses
                assert statuses.get(200, 0) > 40, statuses
                assert any(s == "replica1" for t, s in sources if t < stopped_at), "no read ran on the replica first"
                late = [s for t, s in sources if t > stopped_at + 0.5]
                assert late and all(s == "primary" for s in late), set(late)

                got = await sse.wait_for(writes, timeout=15)
                assert [e["objectId"] for e in got] == ids
                seen = []
                while len(seen) < writes:
                    message = await next_message(ws, timeout=10)
                    assert message["type"] == "next", message
                    seen.append(message["payload"]["data"]["events"]["objectId"])
                assert seen == ids

            def delivered() -> bool:
                return {r.json()["data"]["id"] for r in receiver.received} >= set(ids)

            await eventually(delivered, timeout=20)
        finally:
            receiver.stop()
            await client.delete(f"{a}/v1/webhook-endpoints/{endpoint.json()['id']}", headers=admin)

        # The replica comes back: reads return to it once it answers a poll.
        await asyncio.to_thread(replicated.cluster.standbys[0].start)

        async def back() -> bool:
            r = await client.get(f"{a}/v1/actors/{SEED_ACTOR}", headers=NO_CACHE)
            return r.status_code == 200 and r.headers.get("read-source") == "replica1"

        await eventually(back, timeout=15)
