"""asOf reads against current reads, in the same run on the same server: one uvicorn worker (pinned
to one core) over a generated corpus in which a share of the facts has later versions, loaded by
wrk (pinned to the other core). For each request — a claim by id, a speaker's claims with the
speaker expanded, the first and a deep page, and the nested GraphQL read (articles → claims →
speaker) — req/s, p50/p99 and server CPU per request, now and as of a time before the changes,
and the asOf ÷ current CPU ratio.

``--compare-relations`` measures instead what 0016's reference filter costs the recall-rule
relations (``<table>_public()`` / ``_public_at``): each read with them and with 0009's plain ones,
swapped in turn (ABAB) on the same server and database, server and PostgreSQL CPU per request.
``--partly`` makes a share of claims partly withdrawn (a second reference, into a withheld
article), whose reads take the per-reference path.

    .venv/bin/python -m bench.bench_as_of                                   # 100,000 / 300,000
    .venv/bin/python -m bench.bench_as_of --articles 2000 --claims 10000 --duration 3
    .venv/bin/python -m bench.bench_as_of --compare-relations --partly 0.2 --articles 20000 --claims 60000
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from api.embedded import free_port
from bench.common import embedded_postgres, embedded_redis, load_corpus, print_table, server_env, settle, temp_dir
from bench.http import cpu_seconds, serve, uvicorn_cmd, wrk
from db import pagination, writes
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


async def partly_withdraw(database_url: str, share: float) -> str | None:
    """``share`` of claims also cite one article, which is then withheld: left as the write service
    would leave them (partlyWithdrawn, a version each). Returns one of them, from the middle."""
    if share <= 0:
        return None
    conn = await connect(database_url)
    try:
        body = "A withheld report quoted by many claims."
        held = await writes.create(
            conn, "article", {"uri": "urn:bench:withheld", "headline": "Withheld", "body": body}, changed_by="bench"
        )
        await conn.execute(
            "UPDATE articles SET pub_status = 'withheld', version = version + 1, updated_at = clock_timestamp()"
            " WHERE id = $1",
            held["id"],
        )
        ref = {"article": held["id"], "charStart": 0, "charEnd": 10, "quoteText": body[:10]}
        modulo = max(1, round(1 / share))
        await conn.execute(
            f"""UPDATE claims SET refs = refs || jsonb_build_array($1::jsonb), article_ids = article_ids || $2::text,
                       sourcing = 'partlyWithdrawn', version = version + 1, updated_at = clock_timestamp()
                WHERE hashtext(id) % {modulo} = 1""",
            ref,
            held["id"],
        )
        n = await conn.fetchval("SELECT count(*) FROM claims WHERE sourcing = 'partlyWithdrawn'")
        return str(
            await conn.fetchval(
                "SELECT id FROM claims WHERE sourcing = 'partlyWithdrawn' ORDER BY id OFFSET $1 LIMIT 1", n // 2
            )
        )
    finally:
        await conn.close()


# The recall-rule relations as 0009 made them (plain column lists, no reference filter): the
# baseline of --compare-relations. 0016's are put back from their saved definitions.
PLAIN_RELATIONS = """DO $do$
DECLARE
    tbl text;
    cols text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['claims', 'deployments', 'incidents'] LOOP
        SELECT string_agg('h.' || quote_ident(attname), ', ' ORDER BY attnum) INTO cols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped;
        EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I_public() RETURNS SETOF %1$I LANGUAGE sql STABLE AS $body$
            SELECT %2$s FROM %1$I h WHERE h.sourcing <> 'withdrawn'
            $body$$f$, tbl, cols);
        EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I_public_at(at timestamptz) RETURNS SETOF %1$I LANGUAGE sql STABLE AS $body$
            SELECT %2$s FROM %1$I_history h JOIN %1$I cur ON cur.id = h.id
            WHERE h.valid_from <= at AND at < h.valid_to AND h.sourcing <> 'withdrawn' AND cur.sourcing <> 'withdrawn'
            $body$$f$, tbl, cols);
    END LOOP;
END
$do$"""
_RELATIONS = """SELECT pg_get_functiondef(p.oid) FROM pg_proc p
WHERE p.proname = ANY(ARRAY['claims_public', 'claims_public_at', 'deployments_public', 'deployments_public_at',
                            'incidents_public', 'incidents_public_at'])"""


async def relations(database_url: str, install: list[str]) -> list[str]:
    """The definitions of the recall-rule relations, after running ``install`` (SQL statements)."""
    conn = await connect(database_url)
    try:
        for statement in install:
            await conn.execute(statement)
        return [str(r[0]) for r in await conn.fetch(_RELATIONS)]
    finally:
        await conn.close()


async def data_directory(database_url: str) -> str:
    conn = await connect(database_url)
    try:
        return str(await conn.fetchval("SHOW data_directory"))
    finally:
        await conn.close()


def compare_relations(
    args: argparse.Namespace, database_url: str, env: dict[str, str], at: str, requests: list[Any], folder: Any
) -> None:
    """Each read with 0016's relations and with 0009's, in turn on one server: CPU per request."""
    filtered = asyncio.run(relations(database_url, []))
    # The postmaster: its CPU time and its backends' is PostgreSQL's share of each request.
    postmaster = int((Path(asyncio.run(data_directory(database_url))) / "postmaster.pid").read_text().split()[0])
    rows: list[list[Any]] = []
    port = free_port()
    cmd = uvicorn_cmd("api.asgi:app_from_environ", port, factory=True)
    with serve(cmd, {**env, "PORT": str(port)}, port, "/healthz") as (url, pid):
        for name, now_path, past_path, body in requests:
            for read, path, as_of in (("now", now_path, None), ("asOf", past_path, at)):
                payload = orjson.dumps({"query": NESTED, "variables": {"at": as_of}}) if body is not None else None
                headers = {"content-type": "application/json"} if payload is not None else None
                cpu: dict[str, list[float]] = {"0009": [], "0016": []}
                p50: dict[str, list[float]] = {"0009": [], "0016": []}
                for _turn in range(args.turns):
                    for label, install in (("0009", [PLAIN_RELATIONS]), ("0016", filtered)):
                        asyncio.run(relations(database_url, install))
                        wrk(url + path, 2, args.connections, headers=headers, body=payload, folder=folder)  # warm-up
                        pg_before = cpu_seconds(postmaster)
                        m = wrk(
                            url + path, args.duration, args.connections, headers=headers, body=payload,
                            folder=folder, server_pid=pid,
                        )  # fmt: skip
                        if m["errors"] or not m["requests"]:
                            raise SystemExit(f"{name}: {m['errors']} error responses")
                        pg_ms = (cpu_seconds(postmaster) - pg_before) * 1000 / m["requests"]
                        cpu[label].append(m["cpu_ms"] + pg_ms)
                        p50[label].append(m["p50"])
                base, mine = (sum(cpu[k]) / len(cpu[k]) for k in ("0009", "0016"))
                rows.append([
                    name, read, round(base, 3), round(mine, 3), f"{mine / base:.2f}x",
                    f"{sum(p50['0009']) / args.turns:.1f} → {sum(p50['0016']) / args.turns:.1f}",
                ])  # fmt: skip
    asyncio.run(relations(database_url, filtered))
    print_table(
        f"0016's reference filter: the recall-rule relations with it ÷ as 0009 made them, {args.articles:,} articles"
        f" / {args.claims:,} claims, {args.partly:.0%} of claims partly withdrawn",
        ["request", "read", "CPU ms/req 0009", "CPU ms/req 0016", "0016 ÷ 0009", "p50 ms 0009 → 0016"],
        rows,
        note=(
            f"Anonymous reads; CPU is the server's plus PostgreSQL's (every postgres process) per request, the mean"
            f" of {args.turns} turns each (ABAB…); wrk -t1 -c{args.connections} -d{args.duration}s. The machine is shared:"
            " compare the ratios."
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=300_000)
    parser.add_argument("--share", type=float, default=0.2, help="share of facts given a later version")
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per request")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--partly", type=float, default=0.0, help="share of claims made partly withdrawn")
    parser.add_argument("--compare-relations", action="store_true", help="0016's relations against 0009's")
    parser.add_argument("--turns", type=int, default=2, help="--compare-relations: measurements of each, alternated")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    with temp_dir() as folder, embedded_postgres(folder) as database_url, embedded_redis(folder) as redis_url:
        started = time.perf_counter()
        ids = asyncio.run(load_corpus(database_url, args.articles, args.claims))
        partly = asyncio.run(partly_withdraw(database_url, args.partly))
        at = asyncio.run(revise(database_url, args.share))
        asyncio.run(settle(database_url))  # the revisions' events too, and their dead rows
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
        if partly is not None:
            by_id = f"/v1/claims/{partly}"
            requests.insert(1, ("a partly withdrawn claim by id", by_id, f"{by_id}?asOf={q}", None))
        if args.compare_relations:
            compare_relations(args, database_url, env, at, requests, folder)
            return
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
