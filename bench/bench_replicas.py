"""Read replicas benchmark, on one machine: a primary and a pg_basebackup streaming replica
(api/embedded_cluster.py), Redis, and one API process (cache off, so every read reaches
PostgreSQL). Prints four tables:

- replica lag while the corpus is bulk-loaded into the primary (sampled as the API's monitor does);
- how fast one relay leader publishes the outbox that load left behind (events/s);
- read throughput and the primary's CPU per read with 0 and 1 replicas (wrk, a filtered page with
  ``expand=speaker``), the replica's CPU per read beside it;
- time from a write's response to a fresh read through the replica, with and without the token.

    .venv/bin/python -m bench.bench_replicas                 # 1,000 articles / 10,000 claims, 8 s per wrk run
    .venv/bin/python -m bench.bench_replicas --articles 5000 --claims 50000 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.embedded import free_port
from api.embedded_cluster import EmbeddedCluster
from api.reads.router import ReadRouter
from bench.common import embedded_redis, load_corpus, percentile, print_table, temp_dir
from bench.http import cpu_seconds, pin, serve, wrk
from db import keys
from db.migrate import migrate
from db.pool import connect, create_pool


def postmaster_pid(folder: Path) -> int:
    return int((folder / "postmaster.pid").read_text().split()[0])


async def load_watching_lag(
    primary: str, replica: str, articles: int, claims: int
) -> tuple[dict[str, Any], list[float], float]:
    """Bulk-loads the corpus while a ReadRouter monitor samples the replica's lag every 50 ms."""
    conn = await connect(primary)
    await migrate(conn)  # the monitor reads the event counter
    await conn.close()
    pool = await create_pool(primary, min_size=1, max_size=2)
    router = ReadRouter.from_urls(pool, (replica,), poll_seconds=0.05)
    await router.start()
    lags: list[float] = []
    errors: dict[str, int] = {}

    async def sample() -> None:
        while True:
            await asyncio.sleep(0.05)
            replica = router.replicas[0]
            if replica.healthy:
                lags.append(replica.lag_ms)
            else:  # a poll that did not answer within its bound: the API would skip the replica meanwhile
                errors[replica.error or "?"] = errors.get(replica.error or "?", 0) + 1

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    try:
        ids = await load_corpus(primary, articles, claims, keep_outbox=True)
    finally:
        seconds = time.perf_counter() - started
        sampler.cancel()
        await router.stop()
        await pool.close()
    return ids, lags, seconds, errors


async def relay_state(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        published = await conn.fetchval("SELECT coalesce(max(published_sequence), 0) FROM relay_state")
        last = await conn.fetchval("SELECT last FROM event_counter")
    finally:
        await conn.close()
    return int(published or 0), int(last or 0)


def server_env(primary: str, redis: str, replicas: str = "") -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": primary, "DATABASE_REPLICA_URLS": replicas, "REDIS_URL": redis,
        "CACHE_ENABLED": "false", "RATE_LIMIT_ANONYMOUS": "100000000", "RATE_LIMIT_KEY": "100000000",
        "LOG_LEVEL": "warning", "DB_POOL_MAX": "10",
    }  # fmt: skip


def api_cmd(port: int) -> list[str]:
    return [*pin(0), sys.executable, "-m", "api.cli", "serve"]


async def freshness(base: str, key: str, actor: str, rounds: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """ms from a write's response to the first read showing it: with its token (one read), and
    without (polling the replica until it has replayed the write)."""
    out: dict[str, list[float]] = {"with token": [], "without token": []}
    sources: dict[str, int] = {}
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for i in range(rounds):
            name = f"Fresh {i}"
            wrote = await client.patch(f"/v1/actors/{actor}", json={"name": name}, headers=auth)
            assert wrote.status_code == 200, wrote.text
            start = time.perf_counter()
            if i % 2 == 0:
                read = await client.get(
                    f"/v1/actors/{actor}", headers={"Consistency-Token": wrote.headers["consistency-token"]}
                )
                assert read.json()["name"] == name
                out["with token"].append((time.perf_counter() - start) * 1000)
                source = read.headers.get("read-source", "?")
                sources[source] = sources.get(source, 0) + 1
            else:
                while (await client.get(f"/v1/actors/{actor}")).json()["name"] != name:
                    pass
                out["without token"].append((time.perf_counter() - start) * 1000)
    return out, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    with temp_dir() as folder, embedded_redis(folder / "redis") as redis:
        cluster = EmbeddedCluster(folder / "cluster").start()
        try:
            cluster.wait_replicating()
            admin = cluster.primary.url()

            async def create() -> None:
                conn = await asyncpg.connect(admin)
                await conn.execute("CREATE DATABASE newsfacts")
                await conn.close()

            asyncio.run(create())
            primary, replica = cluster.primary.url("newsfacts"), cluster.standbys[0].url("newsfacts")
            ids, lags, load_s, unanswered = asyncio.run(load_watching_lag(primary, replica, args.articles, args.claims))
            facts = args.articles + args.claims
            print_table(
                f"Replica lag during the bulk load ({facts:,} facts in {load_s:.1f} s, {facts / load_s:,.0f} facts/s)",
                ["samples", "lag p50 ms", "lag p99 ms", "lag max ms", "polls unanswered"],
                [[len(lags), percentile(lags, 50), percentile(lags, 99), max(lags or [0.0]), sum(unanswered.values())]],
                note="Lag: how long ago the primary first passed the replica's replay position (REPLICA_MAX_LAG_MS skips "
                f"a replica past it). Unanswered polls (skipped meanwhile): {unanswered or 'none'}.",
            )

            # The load ran with no API process, so its events wait in the outbox: one relay leader publishes them.
            port = free_port()
            env = {**server_env(primary, redis), "PORT": str(port)}
            published0, last = asyncio.run(relay_state(primary))
            started = time.perf_counter()
            with serve(api_cmd(port), env, port, "/healthz"):
                first: tuple[float, int] | None = None
                while True:
                    published, last = asyncio.run(relay_state(primary))
                    now = time.perf_counter()
                    if first is None and published > published0:
                        first = (now, published)
                    if published >= last:
                        break
                    if now - started > 120:
                        raise TimeoutError("relay did not catch up")
                    time.sleep(0.02)
            assert first is not None
            relay_rate = (last - first[1]) / max(time.perf_counter() - first[0], 1e-3)
            print_table(
                "One relay leader publishing the outbox to the Redis Stream",
                ["events", "events/s"],
                [[last - published0, relay_rate]],
                note="From the first published batch to the last (batches of 500, one XADD pipeline each).",
            )

            key = asyncio.run(_write_key(primary))
            path = f"/v1/claims?speaker={ids['speaker']}&expand=speaker&limit=20"
            rows = []
            fresh: dict[str, list[float]] = {}
            served: dict[str, int] = {}
            for label, replicas in (("0 replicas", ""), ("1 replica", replica)):
                port = free_port()
                env = {**server_env(primary, redis, replicas), "PORT": str(port)}
                with serve(api_cmd(port), env, port, "/healthz") as (base, _pid):
                    httpx.get(base + path, timeout=10)  # warm the pools
                    p_before = cpu_seconds(postmaster_pid(cluster.primary.folder))
                    r_before = cpu_seconds(postmaster_pid(cluster.standbys[0].folder))
                    result = wrk(base + path, args.duration, args.connections)
                    p_cpu = cpu_seconds(postmaster_pid(cluster.primary.folder)) - p_before
                    r_cpu = cpu_seconds(postmaster_pid(cluster.standbys[0].folder)) - r_before
                    requests = max(result["requests"], 1)
                    rows.append([
                        label, result["rps"], result["p50"], result["p99"], int(result["errors"]),
                        p_cpu * 1000 / requests, r_cpu * 1000 / requests,
                    ])  # fmt: skip
                    if replicas:
                        fresh, served = asyncio.run(freshness(base, key, ids["speaker"], args.rounds))
            print_table(
                f"Reads with 0 and 1 replicas (`GET {path.split('?')[0]}?speaker=…&expand=speaker&limit=20`, {args.connections} connections, cache off)",
                ["setup", "req/s", "p50 ms", "p99 ms", "errors", "primary CPU ms/read", "replica CPU ms/read"],
                rows,
                note="CPU: user+system of each PostgreSQL server's process tree over the wrk run, per request. One machine: the replica's CPU comes out of the same two cores.",
            )
            print_table(
                "Write → fresh read through the replica",
                ["read", "rounds", "p50 ms", "p99 ms", "max ms"],
                [[k, len(v), statistics.median(v), percentile(v, 99), max(v)] for k, v in fresh.items() if v],
                note=f"Token reads served by: {', '.join(f'{k} {v}' for k, v in sorted(served.items()))}. "
                "From the PATCH's response to the first read showing it. With the token the first read is fresh by construction (a replica that has replayed it, a bounded wait, or the primary); without it the client polls until the replica has replayed.",
            )
        finally:
            cluster.stop()


async def _write_key(url: str) -> str:
    conn = await connect(url)
    try:
        _, secret = await keys.create(conn, name="bench-replicas", scope="write")
    finally:
        await conn.close()
    return secret


if __name__ == "__main__":
    main()
