"""GraphQL benchmark: one uvicorn worker (pinned to one core) serving /graphql over a generated
corpus, loaded by wrk (pinned to the other core) with POST bodies. Reports req/s and p50/p99 for
(a) ``{ __typename }``, (b) one claim by id with speaker and references, (c) 20 articles x their
5 claims x each claim's speaker — each as a ratio of the ceiling measured in the same run (a
constant-JSON Starlette route on the same server stack) — then a cProfile of (c) in-process.

    .venv/bin/python -m bench.bench_graphql                                   # 2,000 / 10,000
    .venv/bin/python -m bench.bench_graphql --articles 100000 --claims 1000000 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, load_corpus, print_table, temp_dir
from bench.http import serve, uvicorn_cmd, wrk
from db.pool import create_pool

QUERIES = {
    "(a) { __typename }": ("{ __typename }", {}),
    "(b) claim + speaker + references": (
        """query($id: ID!) { claim(id: $id) { id statement quote quoteType speaker { id name }
           references { charStart charEnd quoteText article { id headline } } } }""",
        {},
    ),
    "(c) 20 articles x 5 claims x speaker": (
        """{ articles(first: 20) { nodes { id headline claims(first: 5) {
             nodes { id statement speaker { id name } } } } } }""",
        {},
    ),
}


def check(url: str, body: bytes) -> None:
    """Each benchmarked query must succeed before it is timed."""
    r = httpx.post(url + "/graphql", content=body, headers={"content-type": "application/json"}, timeout=10).json()
    if r.get("errors"):
        raise SystemExit(f"query failed: {r['errors']}")


async def profile_c(database_url: str, rounds: int) -> list[tuple[str, float]]:
    """cProfile of (c) executed in-process through the schema (no HTTP): own time by package."""
    from schema import build_schema
    from schema.context import Context

    schema = build_schema()
    pool = await create_pool(database_url, min_size=2, max_size=4)
    query = QUERIES["(c) 20 articles x 5 claims x speaker"][0]
    try:
        for _ in range(20):
            await schema.execute(query, context_value=Context(pool=pool))
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(rounds):
            result = await schema.execute(query, context_value=Context(pool=pool))
            assert not result.errors, result.errors
        profiler.disable()
    finally:
        await pool.close()
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
    total = sum(by_package.values())
    return [(k, v / total * 100) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])]


def _package(filename: str) -> str:
    for name in ("strawberry", "graphql", "asyncpg", "orjson", "asyncio"):
        if f"/{name}/" in filename:
            return name
    for name in ("schema", "db", "api"):
        if f"/main/{name}/" in filename:
            return f"newsfacts {name}/"
    if filename.startswith("~") or filename == "<built-in>":
        return "builtins (C)"
    return "other Python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per query")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile-rounds", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        claim_id = asyncio.run(load_corpus(database_url, args.articles, args.claims))["claim"]
        load_s = time.perf_counter() - started
        env = {
            **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "warning",
            "ENVIRONMENT": "production", "ANONYMOUS_READS": "true", "RATE_LIMIT_ANONYMOUS": "1000000000",
            "RATE_LIMIT_KEY": "1000000000", "DB_POOL_MAX": "10", "CACHE_ENABLED": "false",
        }  # fmt: skip
        bodies = {
            name: orjson.dumps({"query": q, "variables": {"id": claim_id} if "$id" in q else v})
            for name, (q, v) in QUERIES.items()
        }
        rows: list[list[Any]] = []
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            port = free_port()
            ceiling_body = bodies["(a) { __typename }"]
            with serve(uvicorn_cmd("bench.ceiling_app:app", port, factory=False), env, port, "/graphql") as (url, pid):
                wrk(url + "/graphql", 2, args.connections, body=ceiling_body, folder=work)  # warm-up
                ceiling = wrk(
                    url + "/graphql", args.duration, args.connections, body=ceiling_body, folder=work, server_pid=pid
                )
            rows.append(
                ["ceiling: constant JSON (Starlette)", ceiling["rps"], ceiling["p50"], ceiling["p99"], 1.0,
                 ceiling["cpu_ms"], 1.0]
            )  # fmt: skip
            port = free_port()
            cmd = uvicorn_cmd("api.asgi:app_from_environ", port, factory=True)
            with serve(cmd, {**env, "PORT": str(port)}, port, "/healthz") as (url, pid):
                for name, body in bodies.items():
                    check(url, body)
                    wrk(url + "/graphql", 2, args.connections, body=body, folder=work)  # warm-up: caches, pool
                    m = wrk(url + "/graphql", args.duration, args.connections, body=body, folder=work, server_pid=pid)
                    if m["errors"]:
                        raise SystemExit(f"{name}: {m['errors']} non-2xx responses")
                    rows.append(
                        [name, m["rps"], m["p50"], m["p99"], m["rps"] / ceiling["rps"], m["cpu_ms"],
                         ceiling["cpu_ms"] / m["cpu_ms"]]
                    )  # fmt: skip
        print_table(
            f"GraphQL: one uvicorn worker, {args.articles:,} articles / {args.claims:,} claims",
            [
                "query",
                "req/s",
                "p50 ms",
                "p99 ms",
                "req/s ratio vs ceiling",
                "server CPU ms/req",
                "CPU ratio vs ceiling",
            ],
            rows,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s; server and wrk pinned to separate cores; "
                "server CPU ms/req is the worker's user+system time over the run divided by requests served "
                "(ceiling CPU / query CPU is the ratio that holds on a shared machine); "
                f"corpus loaded in {load_s:.0f} s. Reference points from the issue for (c): "
                "PostGraphile v4 ≈ 1,000 req/s, plain Starlette + 3 batched queries ≈ 2,000."
            ),
        )
        shares = asyncio.run(profile_c(database_url, args.profile_rounds))
        print_table(
            "Where (c) spends its time (cProfile, in-process schema.execute, own time by package)",
            ["package", "% of own time"],
            [[name, share] for name, share in shares if share >= 0.5],
        )


if __name__ == "__main__":
    main()
