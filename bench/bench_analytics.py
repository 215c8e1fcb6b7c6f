"""Analytics benchmark (issue 24): facets of three fields, a month histogram, a bounded sum grouped
by type and a small bbox, each served by newsfacts (one uvicorn worker pinned to core 0, response
cache off, anonymous reads: the recall rules apply) and by a bare Starlette route running one
hand-written statement over the same data (bench/analytics_floor.py), in interleaved rounds of
wrk on the other core. The floor's statement answers what our request answers — its JSON is
checked equal to ours, member for member, before anything is timed; the first floors, which
computed less (no zero-filled buckets, totals, openUpper, otherCount, hasMore…), are measured too
as the "old floor". Reports req/s, p50 and server CPU per request, the CPU ratio to the floor
and to the old floor, and the load average at the start; then PostgreSQL's own
time for the small bbox through the GiST index and as a sequential scan. Whole-table facets are read
from the counts kept by triggers (0018), and the whole-table histogram of claimDate from the
per-day counts (0019), with the most deltas a read meets left unfolded
(bench/facet_rollup.py), and the write cost those triggers add is measured last.

    .venv/bin/python -m bench.bench_analytics                                   # 100,000 / 300,000
    .venv/bin/python -m bench.bench_analytics --articles 2000 --claims 6000 --incidents 2000 --duration 3
    .venv/bin/python -m bench.bench_analytics --only bbox --rounds 4                # one request, more rounds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
from typing import Any

import httpx

from api.embedded import free_port
from bench.analytics_floor import OLD_BBOX
from bench.common import embedded_postgres, embedded_redis, load_corpus, median_ms, print_table, server_env, temp_dir
from bench.facet_rollup import leave_deltas, read_ms, sums_read_ms, write_costs
from bench.http import pin_self, serve, uvicorn_cmd, wrk
from db.pool import connect

SMALL_BOX = (-76.0, 14.0, -74.0, 16.0)  # 2° x 2° in the Caribbean, where a quarter of the points scatter
BOX = ",".join(str(x) for x in SMALL_BOX)
# (name, our request, the fair floor's, the old floor's): the fair floor answers what ours does
# (check_same proves it); the old one (the first floors) computes less, and is kept for comparison.
REQUESTS = [
    (
        "facets of 3 fields (whole table)",
        "/v1/claims/facets?facet=status,quoteType,speaker",
        "/floor/facets",
        "/floor/old-facets",
    ),
    (
        "month histogram (whole table)",
        "/v1/claims/histogram?on=claimDate&interval=month",
        "/floor/histogram?timeZone=UTC",
        "/floor/old-histogram",
    ),
    (
        "bounded sum grouped by type",
        "/v1/incidents/aggregate?sum=fatalities&groupBy=incidentType",
        "/floor/sums",
        "/floor/old-sums",
    ),
    (
        "small bbox, first 20",
        f"/v1/incidents?bbox={BOX}&limit=20",
        f"/floor/bbox?bbox={BOX}",
        f"/floor/old-bbox?bbox={BOX}",
    ),
]
# Our envelope's members that echo the request (the floors answer one request each, so need none).
ECHOES = ("object", "on", "interval", "timeZone", "groupBy")


def check_same(name: str, ours: Any, floor: Any) -> str:
    """The fair floor's answer is ours, member for member (exit if not): the same buckets, counts,
    sums and page, so the floor does all the work our request does. Says what was compared."""
    mine = {k: v for k, v in ours.items() if k not in ECHOES}
    if name.startswith("facets"):
        mine = mine["facets"]
    if mine != floor:
        raise SystemExit(f"{name}: newsfacts and the hand-written statement disagree:\n{mine}\n{floor}")
    return name


def check_old(name: str, ours: Any, floor: Any) -> None:
    """The old floor counts the same facts as far as it goes (exit if not)."""
    if name.startswith("facets"):
        mine = {(f, b["value"]): b["count"] for f, facet in ours["facets"].items() for b in facet["buckets"]}
        names = {3: "status", 5: "quoteType", 6: "speaker"}
        theirs = {(names.get(r["facet"], "?"), r["value"]): r["count"] for r in floor if r["value"] is not None}
        # The categorical facets only: the old statement's labels and ties were not compared.
        categorical = ("status", "quoteType")
        ok = {k: v for k, v in mine.items() if k[0] in categorical} == {
            k: v for k, v in theirs.items() if k[0] in categorical
        }
    elif name.startswith("month"):
        ok = [b["count"] for b in ours["buckets"] if b["count"]] == [r["count"] for r in floor]
    elif name.startswith("bounded"):
        mine = {
            (g["key"], s["unit"]): (s["low"], s["best"], s["high"])
            for g in ours["groups"]
            for s in g["sums"]["fatalities"]
        }
        ok = mine == {(r["key"], r["unit"]): (r["low"], r["best"], r["high"]) for r in floor}
    else:
        ok = [d["id"] for d in ours["data"]] == [d["id"] for d in floor]
    if not ok:
        raise SystemExit(f"{name}: newsfacts and the old hand-written statement disagree")


async def statement_ms(database_url: str, sql: str, args: list[Any], runs: int, *, seq_scan: bool) -> float:
    """PostgreSQL's own time (ms, median of ``runs``) for one statement, optionally with index scans off."""
    conn = await connect(database_url)
    try:
        if seq_scan:
            await conn.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
        return await median_ms(conn, sql, args, runs)
    finally:
        await conn.close()


async def corpus_counts(database_url: str) -> dict[str, int]:
    """The loaded corpus's claims, incidents and deployments, and the incidents in SMALL_BOX."""
    conn = await connect(database_url)
    try:
        counts = {
            t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in ("claims", "incidents", "deployments")
        }
        counts["in box"] = int(
            await conn.fetchval(
                "SELECT count(*) FROM incidents WHERE nf_geo_box(location_geojson) && box(point($1, $2), point($3, $4))",
                *SMALL_BOX,
            )
        )
        return counts
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=300_000)
    parser.add_argument("--incidents", type=int, default=20_000, help="deployments and incidents, of each")
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per request and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument(
        "--only",
        help="time only the requests whose name contains this word (e.g. bbox); the PostgreSQL tables still print",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    pin_self(1)  # this script, PostgreSQL and Redis on core 1; the servers on core 0

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        asyncio.run(load_corpus(database_url, args.articles, args.claims, incidents=args.incidents))
        counts = asyncio.run(corpus_counts(database_url))
        load_s = time.perf_counter() - started
        after_load, deltas = asyncio.run(leave_deltas(database_url))
        env = server_env(database_url, redis_url, CACHE_ENABLED="false", ANONYMOUS_READS="true")
        ours_port, floor_port = free_port(), free_port()
        ours_cmd = uvicorn_cmd("api.asgi:app_from_environ", ours_port, factory=True)
        floor_cmd = uvicorn_cmd("bench.analytics_floor:app", floor_port, factory=False)
        timed = [r for r in REQUESTS if args.only is None or args.only in r[0]]
        if not timed:
            raise SystemExit(f"--only {args.only}: no such request ({', '.join(r[0] for r in REQUESTS)})")
        results: dict[str, dict[str, list[dict[str, float]]]] = {
            name: {"ours": [], "floor": [], "old": []} for name, _, _, _ in timed
        }
        load = os.getloadavg()
        with (
            serve(ours_cmd, {**env, "PORT": str(ours_port)}, ours_port, "/healthz") as (ours, ours_pid),
            serve(floor_cmd, env, floor_port, "/healthz") as (floor, floor_pid),
        ):
            compared = []
            for name, path, floor_path, old_path in timed:
                mine = httpx.get(ours + path, timeout=120)
                theirs = httpx.get(floor + floor_path, timeout=120)
                old = httpx.get(floor + old_path, timeout=120)
                if mine.status_code != 200 or theirs.status_code != 200 or old.status_code != 200:
                    raise SystemExit(
                        f"{name}: {mine.status_code} {mine.text[:300]} / {theirs.status_code} / {old.status_code}"
                    )
                compared.append(check_same(name, mine.json(), theirs.json()))
                check_old(name, mine.json(), old.json())
            for _ in range(args.rounds):
                for name, path, floor_path, old_path in timed:
                    for who, url, pid in (
                        ("ours", ours + path, ours_pid),
                        ("floor", floor + floor_path, floor_pid),
                        ("old", floor + old_path, floor_pid),
                    ):
                        wrk(url, 1, args.connections)  # warm-up
                        m = wrk(url, args.duration, args.connections, server_pid=pid)
                        if m["errors"]:
                            raise SystemExit(f"{name} ({who}): {m['errors']} failed requests")
                        results[name][who].append(m)
        rows = []
        for name, _, _, _ in timed:
            ours_runs, floor_runs, old_runs = (results[name][who] for who in ("ours", "floor", "old"))

            def cpu(runs: list[dict[str, float]]) -> float:
                return sum(m["cpu_s"] for m in runs) * 1000 / sum(m["requests"] for m in runs)

            def mean(runs: list[dict[str, float]], key: str) -> float:
                return statistics.fmean(m[key] for m in runs)

            per_round = [cpu([o]) / cpu([f]) for o, f in zip(ours_runs, floor_runs, strict=True)]
            rows.append([
                name, mean(ours_runs, "rps"), mean(ours_runs, "p50"), cpu(ours_runs),
                mean(floor_runs, "rps"), mean(floor_runs, "p50"), cpu(floor_runs), cpu(ours_runs) / cpu(floor_runs),
                f"{min(per_round):.2f} to {max(per_round):.2f}",
                mean(old_runs, "p50"), cpu(old_runs), cpu(ours_runs) / cpu(old_runs),
            ])  # fmt: skip
        print_table(
            f"Analytics: newsfacts vs one hand-written statement, {args.articles:,} articles / {counts['claims']:,} claims"
            f" / {counts['incidents']:,} incidents",
            [
                "request",
                "req/s",
                "p50 ms",
                "server CPU ms/req",
                "floor req/s",
                "floor p50 ms",
                "floor CPU ms/req",
                "CPU ratio",
                "CPU ratio (per round)",
                "old floor p50 ms",
                "old floor CPU ms/req",
                "CPU ratio (old floor)",
            ],
            rows,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s, {args.rounds} interleaved rounds; load average"
                f" {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the start; servers on core 0,"
                " PostgreSQL, Redis and wrk on core 1; anonymous reads (the recall rules apply to both); corpus loaded"
                f" in {load_s:.0f} s. Compared before timing: {'; '.join(compared)}. Whole-table facets read the"
                f" kept counts with {deltas} delta rows unfolded (255 single-claim writes since the last fold;"
                f" the load left {after_load});"
                " the floor is the hand-written GROUPING SETS over the table. The month histogram of claimDate reads"
                " the kept per-day counts (0019); its floor counts the claims. The bounded sum reads the kept sums"
                " (0020), folded; its floor passes over the incidents. The floor answers what ours does"
                " (the same members, compared); the old floor is the first, which computes less. Aims: server CPU"
                " ≤ 1.3x the hand-written statement; whole-table facets p50 < 50 ms."
            ),
        )
        box = list(SMALL_BOX)
        indexed = asyncio.run(statement_ms(database_url, OLD_BBOX, box, 20, seq_scan=False))
        scanned = asyncio.run(statement_ms(database_url, OLD_BBOX, box, 5, seq_scan=True))
        print_table(
            "Small bbox in PostgreSQL: GiST on nf_geo_box vs a sequential scan",
            ["statement", "incidents in the box", "GiST ms (median)", "sequential scan ms (median)", "speed-up"],
            [["first 20 incidents meeting a 2 x 2 degree box", counts["in box"], indexed, scanned, scanned / indexed]],
            note="The same statement (bench/analytics_floor.py OLD_BBOX) with index and bitmap scans switched off. Aim: ≥ 20x.",
        )
        print_table(
            "Whole-table facets of status, quoteType, speaker in PostgreSQL (anonymous caller)",
            ["statement", "delta rows", "ms (median)"],
            asyncio.run(read_ms(database_url, ["status", "quoteType", "speaker"])),
            note="The planner's statement for /v1/claims/facets?facet=status,quoteType,speaker (labels included)"
            " against bench/analytics_floor.py FACETS, one connection, nothing else running.",
        )
        print_table(
            "The bounded sum of fatalities by incident type in PostgreSQL (anonymous caller)",
            ["statement", "delta rows", "ms (median)"],
            asyncio.run(sums_read_ms(database_url)),
            note="The planner's statement for /v1/incidents/aggregate?sum=fatalities&groupBy=incidentType, read"
            " from the kept sums (0020) with the deltas of 255 single-incident writes unfolded, then folded,"
            " against bench/analytics_floor.py SUMS, one connection, nothing else running.",
        )
        print_table(
            "What the kept counts add to writes (PostgreSQL's time, EXPLAIN ANALYZE, rolled back)",
            ["write", "facts", "triggers", "statements ms", "trigger ms", "µs per fact", "added to the rest"],
            asyncio.run(write_costs(database_url)),
            note="The claims_facets_* triggers' (0018, 0019) and the incidents_sums_* triggers' (0020) own time"
            " (a fold included) against the statements' execution time without them (the row changes, the other"
            " triggers, indexes and constraints).",
        )


if __name__ == "__main__":
    main()
