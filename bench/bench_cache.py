"""Response-cache benchmark: the same REST and GraphQL requests against one uvicorn worker with the
cache off, with in-process hits, and with Redis hits only (CACHE_LOCAL_ENTRIES=0), each as a ratio
of the ceiling (a constant-JSON Starlette route) measured in the same run, at 32 connections; then
the lag from a committed write to the first read that reflects it.

    .venv/bin/python -m bench.bench_cache                       # 1,000 articles / 20,000 claims
    .venv/bin/python -m bench.bench_cache --articles 100000 --claims 1000000 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from typing import Any

import httpx
import orjson

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, load_corpus, print_table, server_env, summarise_ms, temp_dir
from bench.http import serve, uvicorn_cmd, wrk
from db import writes
from db.pool import connect

GRAPHQL_C = """{ articles(first: 20) { nodes { id headline claims(first: 5) {
  nodes { id statement speaker { id name } } } } } }"""

MODES = {
    "uncached": {"CACHE_ENABLED": "false"},
    "in-process hit": {"CACHE_ENABLED": "true"},
    "Redis hit": {"CACHE_ENABLED": "true", "CACHE_LOCAL_ENTRIES": "0"},
}


def scenarios(ids: dict[str, Any]) -> list[tuple[str, str, bytes | None]]:
    """(name, path, POST body or None)."""
    return [
        ("REST claim by id", f"/v1/claims/{ids['claim']}", None),
        ("REST 20 claims by speaker, expand=speaker", f"/v1/claims?speaker={ids['speaker']}&expand=speaker", None),
        ("GraphQL (c) 20 articles x 5 claims x speaker", "/graphql", orjson.dumps({"query": GRAPHQL_C})),
    ]


async def write_to_read_lag(url: str, database_url: str, claim_id: str, rounds: int) -> list[float]:
    """Seconds from a committed write (made outside the server, as any other process would) to the
    first read through the server that shows it."""
    conn = await connect(database_url)
    lags: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for i in range(rounds):
                await client.get(f"/v1/claims/{claim_id}")  # make sure the old version is cached
                doc = await writes.update(
                    conn, "claim", claim_id, {"statement": f"bench statement {i}"}, changed_by="bench"
                )
                committed = time.perf_counter()
                while True:
                    seen = (await client.get(f"/v1/claims/{claim_id}")).json()
                    if seen["version"] >= doc["version"]:
                        break
                lags.append(time.perf_counter() - committed)
    finally:
        await conn.close()
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--lag-rounds", type=int, default=100)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        ids = asyncio.run(load_corpus(database_url, args.articles, args.claims))
        env = server_env(database_url, redis_url)
        port = free_port()
        with serve(uvicorn_cmd("bench.ceiling_app:app", port, factory=False), env, port, "/graphql") as (url, _):
            wrk(url + "/graphql", 2, args.connections)
            ceiling = wrk(url + "/graphql", args.duration, args.connections)
        rows: list[list[Any]] = [
            ["ceiling: constant JSON (Starlette)", "-", ceiling["rps"], ceiling["p50"], ceiling["p99"], 1.0]
        ]
        lag: dict[str, float] = {}
        for mode, extra in MODES.items():
            port = free_port()
            cmd = uvicorn_cmd("api.asgi:app_from_environ", port, factory=True)
            with serve(cmd, {**env, **extra, "PORT": str(port)}, port, "/healthz") as (url, _):
                for name, path, body in scenarios(ids):
                    check = httpx.request(
                        "POST" if body else "GET", url + path, content=body,
                        headers={"content-type": "application/json"}, timeout=30,
                    )  # fmt: skip
                    if check.status_code != 200 or (body and b'"errors"' in check.content):
                        raise SystemExit(f"{name}: {check.status_code} {check.text[:300]}")
                    wrk(url + path, 2, args.connections, body=body, folder=folder)  # warm-up (and fill the cache)
                    m = wrk(url + path, args.duration, args.connections, body=body, folder=folder)
                    if m["errors"]:
                        raise SystemExit(f"{name} ({mode}): {m['errors']} error responses")
                    rows.append([name, mode, m["rps"], m["p50"], m["p99"], m["rps"] / ceiling["rps"]])
                if mode == "in-process hit":
                    lag = summarise_ms(asyncio.run(write_to_read_lag(url, database_url, ids["claim"], args.lag_rounds)))
        print_table(
            f"Response cache: one uvicorn worker, {args.articles:,} articles / {args.claims:,} claims",
            ["request", "cache", "req/s", "p50 ms", "p99 ms", "ratio vs ceiling"],
            rows,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s, server and wrk pinned to separate cores; rate limits "
                "(Redis) and the access log on, as in production. Targets: in-process hits ≥ 0.6 of the ceiling, "
                "Redis hits ≥ 0.25, p99 < 10 ms for every cached scenario."
            ),
        )
        print_table(
            "Response cache: commit → first fresh read through the server",
            ["writes", "p50 ms", "p99 ms", "max ms"],
            [[args.lag_rounds, lag["p50"], lag["p99"], lag["max"]]],
            note="Writes made by another process (the bench) straight to PostgreSQL; the server learns of them "
            "from the outbox (LISTEN/NOTIFY) and invalidates both tiers.",
        )


if __name__ == "__main__":
    main()
