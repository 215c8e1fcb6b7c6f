"""REST benchmark: one uvicorn worker (pinned to one core) serving /v1 over a generated corpus,
loaded by wrk (pinned to the other core). Reports req/s and p50/p99 for a claim by id, a filtered
page of 20 claims with expand=speaker, the first and a deep page, and a 304 — each as a ratio of
the ceiling measured in the same run (a constant-JSON Starlette route on the same server stack) —
then an NDJSON export of every claim: rows/s and the server's peak RSS.

Then REST on the planner (issue 25), in interleaved rounds, as server CPU per request (the server
process's utime + stime over the requests wrk made), uncached: ``GET /v1/claims?limit=20&expand=
speaker`` against the same page as a planned GraphQL query (every field of the document, the
speaker's too) on the same server, and ``GET /v1/claims/{id}`` against a bare asyncpg
primary-key route (bench/floor_app.py: ``claim_doc`` by id, nothing else).

    .venv/bin/python -m bench.bench_rest                                     # 1,000 / 20,000
    .venv/bin/python -m bench.bench_rest --articles 100000 --claims 1000000 --duration 20
    .venv/bin/python -m bench.bench_rest --only-planner --rounds 3 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from typing import Any

import httpx
import orjson

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


_ACTOR = (
    "id createdAt updatedAt version retractedAt kind name aliases description country wikidataId "
    "roles { title since until organization { id } }"
)
# The GraphQL twin of GET /v1/claims?limit=20&expand=speaker: every key of the claim's document
# (relations as ids), the speaker's whole document, whether a next page exists and its cursor.
GRAPHQL_PAGE = (
    "{ claims(first: 20) { nodes { id createdAt updatedAt version retractedAt statement quote quoteType "
    "speakerDescription claimDate claimDatePrecision status sourcing "
    f"speaker {{ {_ACTOR} }} reportedBy {{ id }} subjects {{ id }} supersedes {{ id }} contradicts {{ id }} "
    "sameAs { id } references { article { id } charStart charEnd quoteText } } "
    "pageInfo { hasNextPage endCursor } } }"
)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def planner_aims(url: str, pid: int, floor_url: str, floor_pid: int, claim: str, args: Any) -> list[list[Any]]:
    """Server CPU per request of each pair, over ``args.rounds`` interleaved rounds (the order of
    each pair swapped every round, so noise hits both alike)."""
    graphql = orjson.dumps({"query": GRAPHQL_PAGE})
    reply = httpx.post(url + "/graphql", content=graphql, headers={"Content-Type": "application/json"}, timeout=30)
    if reply.status_code != 200 or "errors" in reply.json():
        raise SystemExit(f"the GraphQL page failed: {reply.text[:300]}")
    pairs = [
        (
            "GET /v1/claims?limit=20&expand=speaker", (url + "/v1/claims?limit=20&expand=speaker", None, pid),
            "planned GraphQL, the same page", (url + "/graphql", graphql, pid), 1.2,
        ),
        (
            "GET /v1/claims/{id}", (url + f"/v1/claims/{claim}", None, pid),
            "bare asyncpg primary-key route", (floor_url + f"/claims/{claim}", None, floor_pid), 1.3,
        ),
    ]  # fmt: skip
    runs: dict[str, list[float]] = {}
    rates: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for ours, ours_target, base, base_target, _ in pairs:
            order = [(ours, ours_target), (base, base_target)]
            for name, (target, body, server) in order if r % 2 == 0 else order[::-1]:
                if r == 0:
                    wrk(target, 1, args.connections, body=body)
                m = wrk(target, args.duration, args.connections, body=body, server_pid=server)
                if m["errors"]:
                    raise SystemExit(f"{name}: {m['errors']:.0f} failed responses")
                runs.setdefault(name, []).append(m["cpu_ms"])
                rates.setdefault(name, []).append(m["rps"])
    rows = []
    for ours, _, base, _, aim in pairs:
        ratios = [o / b for o, b in zip(runs[ours], runs[base], strict=True)]
        mean_ours, mean_base = sum(runs[ours]) / len(runs[ours]), sum(runs[base]) / len(runs[base])
        rows.append([ours, f"{mean_ours:.3f}", f"{_mean(rates[ours]):.0f}", base, f"{mean_base:.3f}",
                     f"{_mean(rates[base]):.0f}", ", ".join(f"{x:.2f}" for x in ratios), f"{mean_ours / mean_base:.2f}", f"≤ {aim}",
                     "yes" if max(ratios) <= aim else "no"])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per request")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the planner pairs")
    parser.add_argument("--only-planner", action="store_true", help="only the REST-on-the-planner pairs")
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
        if args.only_planner:
            requests = []
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
            if not args.only_planner:
                n, per_s, peak_mb = export(url, pid)
            floor_port = free_port()
            floor_cmd = uvicorn_cmd("bench.floor_app:app", floor_port, factory=False)
            with serve(floor_cmd, env, floor_port, "/healthz") as (floor_url, floor_pid):
                aims = planner_aims(url, pid, floor_url, floor_pid, ids["claim"], args)
        print_table(
            f"REST on the planner: server CPU per request, uncached ({args.rounds} interleaved rounds)",
            [
                "request",
                "CPU ms/req",
                "req/s",
                "baseline",
                "baseline CPU ms/req",
                "baseline req/s",
                "CPU ratio (per round, in order)",
                "CPU ratio (means)",
                "aim",
                "met (every round)",
            ],
            aims,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s per request and round; server CPU = the server "
                "process's utime + stime over the requests wrk made; response cache off; anonymous caller (the "
                "recall rules' relations); the GraphQL query selects every key of the same documents."
            ),
        )
        if args.only_planner:
            return
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
            "REST: NDJSON export of every claim (COPY TO STDOUT; bench_export compares it with bare COPY)",
            ["rows", "rows/s", "server peak RSS MB"],
            [[n, per_s, peak_mb]],
            note="Aim: ≥ 50,000 rows/s under 200 MB RSS.",
        )


if __name__ == "__main__":
    main()
