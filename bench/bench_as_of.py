"""asOf reads against current reads, in the same run on the same server: one uvicorn worker (pinned
to one core) over a generated corpus in which a share of the facts has later versions, loaded by
wrk (pinned to the other core). For each request — a claim by id, a speaker's claims with the
speaker expanded, the first and a deep page, and the nested GraphQL read (articles → claims →
speaker) — req/s, p50/p99 and server CPU per request, now and as of a time before the changes,
and the asOf ÷ current CPU ratio.

    .venv/bin/python -m bench.bench_as_of                                   # 100,000 / 300,000
    .venv/bin/python -m bench.bench_as_of --articles 2000 --claims 10000 --duration 3
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, load_corpus, print_table, server_env, temp_dir
from bench.http import serve, uvicorn_cmd, wrk
from db import pagination
from db.pool import connect

NESTED = "query($at: DateTime) { articles(first: 20, asOf: $at) { nodes { id headline claims(first: 5) { nodes { id statement speaker { name } } } } } }"


async def revise(database_url: str, share: float) -> str:
    """The time before a wave of later versions: ``share`` of claims change status and of actors
    change name (the history triggers record each), so asOf reads meet several versions per fact."""
    conn = await connect(database_url)
    try:
        before = str((await conn.fetchval("SELECT clock_timestamp()")).isoformat())
        await asyncio.sleep(0.05)
        modulo = max(1, round(1 / share))
        await conn.execute(
            f"""UPDATE claims SET status = 'disputed', version = version + 1, updated_at = clock_timestamp()
                WHERE hashtext(id) % {modulo} = 0"""
        )
        await conn.execute(
            f"""UPDATE actors SET name = name || ' (renamed)', version = version + 1, updated_at = clock_timestamp()
                WHERE hashtext(id) % {modulo} = 0"""
        )
        # As autovacuum would before long: GIN indexes fed by a bulk load keep a pending list that
        # every probe scans until it is flushed, which would measure the load, not the read.
        await conn.execute("VACUUM ANALYZE")
        return before
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=300_000)
    parser.add_argument("--share", type=float, default=0.2, help="share of facts given a later version")
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per request")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        ids = asyncio.run(load_corpus(database_url, args.articles, args.claims))
        at = asyncio.run(revise(database_url, args.share))
        load_s = time.perf_counter() - started
        env = server_env(database_url, redis_url, ANONYMOUS_READS="true", CACHE_ENABLED="false")
        q = quote(at)

        def deep(as_of: str | None) -> str:
            return pagination.encode(pagination.Cursor("createdAt", ids["deep"], ids["deep"], as_of))

        claim = f"/v1/claims/{ids['claim']}"
        speaker = f"/v1/claims?speaker={ids['speaker']}&expand=speaker"
        requests: list[tuple[str, str, str, bytes | None]] = [
            ("claim by id", claim, f"{claim}?asOf={q}", None),
            ("20 claims of a speaker, expand=speaker", speaker, f"{speaker}&asOf={q}", None),
            ("first page of 20 claims", "/v1/claims?limit=20", f"/v1/claims?limit=20&asOf={q}", None),
            (
                f"deep page ({args.claims - 100:,} rows in)",
                f"/v1/claims?limit=20&cursor={deep(None)}",
                f"/v1/claims?limit=20&cursor={deep(at)}",
                None,
            ),
            ("GraphQL: 20 articles x 5 claims x speaker", "/graphql", "/graphql", b""),
        ]
        rows: list[list[Any]] = []
        port = free_port()
        cmd = uvicorn_cmd("api.asgi:app_from_environ", port, factory=True)
        with serve(cmd, {**env, "PORT": str(port)}, port, "/healthz") as (url, pid):
            for name, now_path, past_path, body in requests:
                measured = []
                for path, as_of in ((now_path, None), (past_path, at)):
                    payload = orjson.dumps({"query": NESTED, "variables": {"at": as_of}}) if body is not None else None
                    check = (
                        httpx.post(url + path, content=payload, headers={"content-type": "application/json"})
                        if payload is not None
                        else httpx.get(url + path, timeout=30)
                    )
                    if check.status_code != 200 or b'"errors"' in check.content:
                        raise SystemExit(f"{name}: {path} answered {check.status_code} {check.text[:300]}")
                    headers = {"content-type": "application/json"} if payload is not None else None
                    wrk(url + path, 2, args.connections, headers=headers, body=payload, folder=folder)  # warm-up
                    m = wrk(
                        url + path, args.duration, args.connections, headers=headers, body=payload, folder=folder,
                        server_pid=pid,
                    )  # fmt: skip
                    if m["errors"]:
                        raise SystemExit(f"{name}: {m['errors']} error responses")
                    measured.append(m)
                now, past = measured
                for label, m in (("now", now), ("asOf", past)):
                    ratio = f"{m['cpu_ms'] / now['cpu_ms']:.2f}x" if label == "asOf" else "1"
                    rows.append([name, label, m["rps"], m["p50"], m["p99"], round(m["cpu_ms"], 3), ratio])
        print_table(
            f"asOf vs current reads: one uvicorn worker, {args.articles:,} articles / {args.claims:,} claims, "
            f"{args.share:.0%} of claims and actors with a later version",
            ["request", "read", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "CPU vs now"],
            rows,
            note=(
                f"wrk -t1 -c{args.connections} -d{args.duration}s; server and wrk pinned to separate cores; anonymous "
                f"reads (the recall rules apply to both); asOf is a time before the later versions; corpus loaded and "
                f"revised in {load_s:.0f} s."
            ),
        )


if __name__ == "__main__":
    main()
