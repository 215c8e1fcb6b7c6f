"""Bulk-load benchmark: ``newsfacts generate`` then ``newsfacts load`` (the write service: every
field and reference validated, every revision and event written) into a fresh embedded PostgreSQL,
reporting facts/s and the loader's peak RSS. Baseline in the same run: a raw COPY of the same
records into an unindexed table, i.e. the floor of moving those bytes into PostgreSQL.

    .venv/bin/python -m bench.bench_load                               # smoke: 2,000 / 20,000
    .venv/bin/python -m bench.bench_load --articles 100000 --claims 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil

from bench.common import RssSampler, embedded_postgres, print_table, temp_dir
from db.migrate import migrate
from db.pool import connect

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "DATABASE_URL": database_url, "LOG_LEVEL": "warning"}


def generate(path: Path, articles: int, claims: int) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open("wb") as out:
        subprocess.run(
            [NEWSFACTS, "generate", "--articles", str(articles), "--claims", str(claims)], stdout=out, check=True
        )
    return time.perf_counter() - started, sum(1 for _ in path.open("rb"))


def load(path: Path, database_url: str, batch_size: int, profile: Path | None) -> tuple[float, float, dict[str, Any]]:
    """Runs the real CLI in a subprocess and samples its resident memory while it works."""
    cmd = [NEWSFACTS, "load", str(path), "--quiet", "--batch-size", str(batch_size)]
    if profile is not None:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "api.cli", *cmd[1:]]
    started, cpu_before = time.perf_counter(), _children_cpu()
    proc = subprocess.Popen(cmd, env=_env(database_url), stdout=subprocess.PIPE)
    with RssSampler(proc.pid, include_children=False) as rss:
        out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"load failed ({proc.returncode}): {out.decode()[:2000]}")
    report = orjson.loads(out)
    report["cpuSeconds"] = _children_cpu() - cpu_before
    return seconds, rss.peak_mb, report


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def postgres_cpu_seconds(database_url: str) -> float | None:
    """CPU time used so far by the (local) PostgreSQL server: the postmaster, its live processes
    and the backends it has reaped. Wall-clock rates depend on whatever else the machine runs;
    CPU per fact does not, so the table reports both."""
    conn = await asyncpg.connect(database_url)
    try:
        backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        postmaster = psutil.Process(backend.ppid())
        t = postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in postmaster.children():
            with contextlib.suppress(psutil.Error):
                c = child.cpu_times()
                total += c.user + c.system
        return total
    except psutil.Error:
        return None  # not a local server
    finally:
        await conn.close()


async def copy_baseline(path: Path, database_url: str) -> float:
    """COPY every record (id, jsonb) into an unindexed table: no validation, revisions or events."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_raw; CREATE TABLE bench_raw (id text, doc jsonb)")

        def rows() -> Any:
            with path.open("rb") as stream:
                for line in stream:
                    yield (orjson.loads(line)["id"], line.decode())

        started = time.perf_counter()
        batch: list[tuple[str, str]] = []
        for row in rows():
            batch.append(row)
            if len(batch) >= 20_000:
                await conn.copy_records_to_table("bench_raw", records=batch)
                batch = []
        if batch:
            await conn.copy_records_to_table("bench_raw", records=batch)
        seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_raw")
        return seconds
    finally:
        await conn.close()


async def prepare(database_url: str) -> None:
    conn = await connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def verify(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        facts = 0
        for table in ("actors", "articles", "claims", "deployments", "incidents"):
            facts += await conn.fetchval(f"SELECT count(*) FROM {table}")
        return {
            "facts": facts,
            "revisions": await conn.fetchval("SELECT count(*) FROM revisions"),
            "events": await conn.fetchval("SELECT count(*) FROM events"),
            "max_sequence": await conn.fetchval("SELECT coalesce(max(sequence), 0) FROM events"),
        }
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--database-url", help="an empty database to load into (default: a fresh embedded one)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the loader to this file")
    args = parser.parse_args(argv)

    with temp_dir() as folder:
        corpus = folder / "corpus.ndjson"
        gen_seconds, records = generate(corpus, args.articles, args.claims)
        size_mb = corpus.stat().st_size / 1_048_576
        given = contextlib.nullcontext(args.database_url) if args.database_url else None
        with given or embedded_postgres(folder) as url:
            asyncio.run(prepare(url))
            pg_before = asyncio.run(postgres_cpu_seconds(url))
            load_seconds, peak_mb, report = load(corpus, url, args.batch_size, args.profile)
            pg_after = asyncio.run(postgres_cpu_seconds(url))
            counts = asyncio.run(verify(url))
            copy_seconds = asyncio.run(copy_baseline(corpus, url))

    loaded = report["totalLoaded"]
    load_rate, copy_rate = loaded / load_seconds, records / copy_seconds
    print_table(
        f"Bulk load: {args.articles:,} articles / {args.claims:,} claims ({records:,} records, {size_mb:,.0f} MB NDJSON)",
        ["step", "records", "seconds", "records/s", "vs raw COPY", "peak RSS (MB)"],
        [
            ["raw COPY into an unindexed table (baseline)", records, copy_seconds, copy_rate, "1.00x", "—"],
            [
                "newsfacts load (validated, revisions + events)",
                loaded,
                load_seconds,
                load_rate,
                f"{load_rate / copy_rate:.2f}x",
                peak_mb,
            ],
            ["newsfacts generate", records, gen_seconds, records / gen_seconds, "—", "—"],
        ],
        note=(
            f"Rejected: {len(report['rejected'])}. Stored facts {counts['facts']:,}, revisions {counts['revisions']:,},"
            f" events {counts['events']:,} (last sequence {counts['max_sequence']:,}). Batch size {args.batch_size:,};"
            " the load runs as a separate `newsfacts load` process, RSS sampled every 50 ms."
        ),
    )
    pg_cpu = pg_after - pg_before if pg_before is not None and pg_after is not None else None
    cpu_rows = [["newsfacts load process", report["cpuSeconds"], report["cpuSeconds"] * 1e6 / loaded]]
    if pg_cpu is not None:
        cpu_rows.append(["PostgreSQL (all server processes)", pg_cpu, pg_cpu * 1e6 / loaded])
    print_table(
        "CPU time of the load",
        ["process", "CPU seconds", "CPU µs per fact"],
        cpu_rows,
        note="The two run side by side (pipelined), so on an otherwise idle machine with two or more cores "
        "the rate approaches 1e6 / max(µs per fact) facts/s.",
    )
    ok = not report["rejected"] and counts["facts"] == counts["revisions"] == counts["events"] == loaded
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
