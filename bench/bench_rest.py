"""REST benchmark: one uvicorn worker (pinned to one core) serving /v1 over a generated corpus,
loaded by wrk (pinned to the other core). Reports req/s and p50/p99 for a claim by id, a filtered
page of 20 claims with expand=speaker, the first and a deep page, and a 304 — each as a ratio of
the ceiling measured in the same run (a constant-JSON Starlette route on the same server stack) —
then an NDJSON export of every claim: rows/s and the server's peak RSS.

    .venv/bin/python -m bench.bench_rest                                     # 1,000 / 20,000
    .venv/bin/python -m bench.bench_rest --articles 100000 --claims 1000000 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from typing import Any

import httpx

from api.embedded import free_port
from bench.common import RssSampler, embedded_postgres, embedded_redis, load_corpus, print_table, server_env, temp_dir
from bench.http import serve, uvicorn_cmd, wrk
from db import pagination


def export(url: str, pid: int) -> tuple[int, float, float]:
    """Rows, rows/s and the server's peak RSS (MB) of one NDJSON export of every claim."""
    rows = 0
    with RssSampler(pid, interval=0.02) as rss, httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        with client.stream("GET", url + "/v1/claims", headers={"Accept": "application/x-ndjson"}) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes():
                rows += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    return rows, rows / seconds, rss.peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per request")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        ids = asyncio.run(load_corpus(database_url, args.articles, args.claims))
        load_s = time.perf_counter() - started
        env = server_env(database_url, redis_url, CACHE_ENABLED="false")
        deep_cursor = pagination.encode(pagination.Cursor("createdAt", ids["deep"], ids["deep"]))
        claim = f"/v1/claims/{ids['claim']}"
        requests: list[tuple[str, str, dict[str, str]]] = [
            ("claim by id", claim, {}),
            ("20 claims, speaker filter, expand=speaker", f"/v1/claims?speaker={ids['speaker']}&expand=speaker", {}),
            ("first page of 20 claims", "/v1/claims?limit=20", {}),
            (f"deep page ({args.claims - 100:,} rows in)", f"/v1/claims?limit=20&cursor={deep_cursor}", {}),
            ("304 Not Modified (claim by id)", claim, {"If-None-Match": f'"{ids["claim"]}.v{ids["version"]}"'}),
        ]
        rows: list[list[Any]] = []
        port = free_port()
        with serve(uvicorn_cmd("bench.ceiling_app:app", port, factory=False), env, port, "/graphql") as (url, _):
            wrk(url + "/graphql", 2, args.connections)
            ceiling = wrk(url + "/graphql", args.duration, args.connections)
        rows.append(["ceiling: constant JSON (Starlette)", ceiling["rps"], ceiling["p50"], ceiling["p99"], 1.0])
        port = free_port()
        cmd = uvicorn_cmd("api.asgi:app_from_environ", port, factory=True)
        with serve(cmd, {**env, "PORT": str(port)}, port, "/healthz") as (url, pid), open(os.devnull, "w") as sink:
            for name, path, headers in requests:
                status = httpx.get(url + path, headers=headers, timeout=10).status_code
                if status not in (200, 304):
                    raise SystemExit(f"{name}: {path} answered {status}")
                wrk(url + path, 2, args.connections, headers=headers)  # warm-up
                m = wrk(url + path, args.duration, args.connections, headers=headers)
                if m["errors"]:
                    raise SystemExit(f"{name}: {m['errors']} error responses")
                rows.append([name, m["rps"], m["p50"], m["p99"], m["rps"] / ceiling["rps"]])
            print(f"<!-- server pid {pid} -->", file=sink)
            n, per_s, peak_mb = export(url, pid)
        print_table(
            f"REST: one uvicorn worker, {args.articles:,} articles / {args.claims:,} claims",
            ["request", "req/s", "p50 ms", "p99 ms", "ratio vs ceiling"],
            rows,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s; server and wrk pinned to separate cores; access "
                f"log and rate limits (Redis) on, as in production; corpus loaded in {load_s:.0f} s. Aims: claim by "
                "id ≥ 0.2, filtered page with expand ≥ 0.07, deep page within 10% of the first, 304 ≥ 0.3."
            ),
        )
        print_table(
            "REST: NDJSON export of every claim (server-side cursor)",
            ["rows", "rows/s", "server peak RSS MB"],
            [[n, per_s, peak_mb]],
            note="Aim: ≥ 50,000 rows/s under 200 MB RSS.",
        )


if __name__ == "__main__":
    main()
