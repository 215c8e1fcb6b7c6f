"""Bulk-load benchmark: ``newsfacts generate`` then ``newsfacts load`` (set-based: every field,
reference and quote checked, every revision, history row and event written) into a fresh embedded
PostgreSQL, reporting facts/s, the CPU per fact of the loader and of PostgreSQL, and the loader's
peak RSS. Baseline in the same run: a raw COPY of the same records into an unindexed table, i.e.
the floor of moving those bytes into PostgreSQL. Then the schema's floor (bench/load_floor.py): the same
facts written again by plain INSERT … SELECT with no loader around them, what no loader can go under
without writing less per fact. The issue's aims are printed beside the results, with what that floor allows.

    .venv/bin/python -m bench.bench_load                               # smoke: 2,000 / 20,000
    .venv/bin/python -m bench.bench_load --articles 100000 --claims 1000000

``--increment N``: then a second file of N articles and ten times N claims (another seed) into the loaded
graph, as a newsroom's daily file would go, with its own CPU per fact (a small load into a large
graph pays for what a load does whatever its size, such as refreshing statistics).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
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

from bench import load_floor
from bench.common import RssSampler, embedded_postgres, print_table, temp_dir
from db.migrate import migrate
from db.pool import connect

NEWSFACTS = str(Path(sys.executable).parent / "newsfacts")


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "DATABASE_URL": database_url, "LOG_LEVEL": "warning"}


def generate(path: Path, articles: int, claims: int, seed: int = 42) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open("wb") as out:
        subprocess.run(
            [NEWSFACTS, "generate", "--articles", str(articles), "--claims", str(claims), "--seed", str(seed)],
            stdout=out,
            check=True,
        )
    return time.perf_counter() - started, sum(1 for _ in path.open("rb"))


def load(path: Path, database_url: str, batch_size: int, profile: Path | None) -> tuple[float, float, dict[str, Any]]:
    """Runs the real CLI in a subprocess and samples its resident memory while it works."""
    cmd = [NEWSFACTS, "load", str(path), "--quiet", "--batch-size", str(batch_size)]
    if profile is not None:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "api.cli", *cmd[1:]]
    started, cpu_before = time.perf_counter(), _children_cpu()
    proc = subprocess.Popen(cmd, env=_env(database_url), stdout=subprocess.PIPE)
    samples: list[tuple[float, int]] = []
    with RssSampler(proc.pid, include_children=False) as rss:
        while proc.poll() is None:
            samples.append((time.perf_counter() - started, rss.sample()))
            time.sleep(0.2)
        out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"load failed ({proc.returncode}): {out.decode()[:2000]}")
    report = orjson.loads(out)
    # Flat memory: the peak of the load's first fifth against the peak of all of it.
    report["earlyPeakMb"] = max((b for t, b in samples if t <= seconds / 5), default=0) / 1_048_576
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


async def copy_baseline(path: Path, database_url: str) -> tuple[float, float, float | None]:
    """COPY every record (id, jsonb) into an unindexed table: no validation, revisions or events.
    Returns its wall seconds, the CPU seconds of this process and of PostgreSQL it took."""
    pg_before = await postgres_cpu_seconds(database_url)
    cpu_before = time.process_time()
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
        cpu = time.process_time() - cpu_before
        pg_after = await postgres_cpu_seconds(database_url)
        await conn.execute("DROP TABLE bench_raw")
        pg = pg_after - pg_before if pg_before is not None and pg_after is not None else None
        return seconds, cpu, pg
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
        history = 0
        for table in ("actors", "articles", "claims", "deployments", "incidents"):
            history += await conn.fetchval(f"SELECT count(*) FROM {table}_history")
        return {
            "facts": facts,
            "history": history,
            "revisions": await conn.fetchval("SELECT count(*) FROM revisions"),
            "events": await conn.fetchval("SELECT count(*) FROM events"),
            "max_sequence": await conn.fetchval("SELECT coalesce(max(sequence), 0) FROM events"),
        }
    finally:
        await conn.close()


def _increment(folder: Path, url: str, args: argparse.Namespace) -> list[Any]:
    """The --increment file loaded into the graph the main load left: its row of the table."""
    corpus = folder / "increment.ndjson"
    generate(corpus, args.increment, args.increment * 10, seed=43)
    pg_before = asyncio.run(postgres_cpu_seconds(url))
    seconds, _, report = load(corpus, url, args.batch_size, None)
    pg_after = asyncio.run(postgres_cpu_seconds(url))
    loaded = report["totalLoaded"]
    pg_us = (pg_after - pg_before) * 1e6 / loaded if pg_before is not None and pg_after is not None else "—"
    return [
        "newsfacts load into the loaded graph",
        loaded,
        seconds,
        loaded / seconds,
        report["cpuSeconds"] * 1e6 / loaded,
        pg_us,
    ]


def _floor_table(floor: load_floor.Floor, loader_us: float) -> float | None:
    """Prints where the schema's own writes spend PostgreSQL's CPU (bench/load_floor.py); returns
    the rate they allow beside this loader's CPU on two idle cores (None: not a local server)."""
    rows: list[list[Any]] = [[step, cpu, cpu * 1e6 / floor.facts] for step, cpu in floor.steps.items()]
    rows.append(
        ["the load's backend, in all", sum(floor.steps.values()), sum(floor.steps.values()) * 1e6 / floor.facts]
    )
    rate, bound = None, ""
    if floor.server_cpu is not None:
        floor_us = floor.server_cpu * 1e6 / floor.facts
        rows.append(["PostgreSQL, all server processes", floor.server_cpu, floor_us])
        # As for the load's own ceiling: the two stages side by side, whichever bound is lower.
        rate = min(1e6 / max(loader_us, floor_us), 2e6 / (loader_us + floor_us))
        bound = f" Beside this loader's CPU it allows {rate:,.0f} facts/s; on both cores with no loader at all, {2e6 / floor_us:,.0f}."
    print_table(
        f"The schema's floor: the same {floor.facts:,} facts written with no loader around them",
        ["step", "CPU seconds", "CPU µs per fact"],
        rows,
        note=(
            f"bench/load_floor.py, after the load, in a transaction rolled back ({floor.seconds:.1f} s wall): each"
            " fact, its history row, revision and event, the facet counts and the indexes, by plain INSERT … SELECT"
            " from copies of the loaded rows, in the loader's batches; no staging, checks or Python, no VACUUM." + bound
        ),
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--database-url", help="an empty database to load into (default: a fresh embedded one)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the loader to this file")
    parser.add_argument("--increment", type=int, default=0, help="then load N articles / ten times N claims more")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
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
            copy_seconds, copy_cpu, copy_pg_cpu = asyncio.run(copy_baseline(corpus, url))
            floor = asyncio.run(load_floor.measure(url, args.batch_size, functools.partial(postgres_cpu_seconds, url)))
            increment = _increment(folder, url, args) if args.increment else None

    load_after = os.getloadavg()
    loaded = report["totalLoaded"]
    load_rate, copy_rate = loaded / load_seconds, records / copy_seconds
    print_table(
        f"Bulk load: {args.articles:,} articles / {args.claims:,} claims ({records:,} records, {size_mb:,.0f} MB NDJSON)",
        ["step", "records", "seconds", "records/s", "vs raw COPY", "peak RSS (MB)"],
        [
            ["raw COPY into an unindexed table (baseline)", records, copy_seconds, copy_rate, "1.00x", "—"],
            [
                "newsfacts load (validated; history, revisions, events)",
                loaded,
                load_seconds,
                load_rate,
                f"{load_rate / copy_rate:.2f}x",
                peak_mb,
            ],
            ["newsfacts generate", records, gen_seconds, records / gen_seconds, "—", "—"],
        ],
        note=(
            f"Rejected: {len(report['rejected'])}. Stored facts {counts['facts']:,}, history rows {counts['history']:,},"
            f" revisions {counts['revisions']:,}, events {counts['events']:,} (last sequence"
            f" {counts['max_sequence']:,}). Batch size {args.batch_size:,}; the load runs as a separate"
            f" `newsfacts load` process, RSS sampled every 50 ms: peak {peak_mb:,.0f} MB,"
            f" {report['earlyPeakMb']:,.0f} MB in its first fifth. Load average of the machine"
            f" ({os.cpu_count()} CPUs, shared) before / after: {load_before[0]:.1f} / {load_after[0]:.1f}."
        ),
    )
    pg_cpu = pg_after - pg_before if pg_before is not None and pg_after is not None else None
    loader_us, copy_client_us = report["cpuSeconds"] * 1e6 / loaded, copy_cpu * 1e6 / records
    cpu_rows: list[list[Any]] = [
        ["newsfacts load process", report["cpuSeconds"], loader_us],
        ["raw COPY: its client (reads and parses each line)", copy_cpu, copy_client_us],
    ]
    ceilings = []
    copy_ceiling: float | None = None
    if pg_cpu is not None and copy_pg_cpu is not None:
        pg_us, copy_pg_us = pg_cpu * 1e6 / loaded, copy_pg_cpu * 1e6 / records
        cpu_rows.insert(1, ["PostgreSQL during the load (all server processes)", pg_cpu, pg_us])
        cpu_rows.append(["PostgreSQL during the raw COPY", copy_pg_cpu, copy_pg_us])
        # Client and server run side by side: on two idle cores a stage runs at 1e6 / (its µs) per
        # second, and both together at 2e6 / (the sum) — whichever is lower.
        load_ceiling = min(1e6 / max(loader_us, pg_us), 2e6 / (loader_us + pg_us))
        copy_ceiling = min(1e6 / max(copy_client_us, copy_pg_us), 2e6 / (copy_client_us + copy_pg_us))
        ceilings = [
            ["newsfacts load", f"{load_ceiling:,.0f} facts/s", f"{load_ceiling / copy_ceiling:.3f}x"],
            ["raw COPY", f"{copy_ceiling:,.0f} records/s", "1.00x"],
        ]
    print_table(
        "CPU time of the load",
        ["process", "CPU seconds", "CPU µs per fact (record)"],
        cpu_rows,
        note="Client and server run side by side (pipelined).",
    )
    if ceilings:
        print_table(
            "What the CPU per fact allows on two otherwise idle cores",
            ["step", "rate", "vs raw COPY"],
            ceilings,
            note="min(1e6 / the slower stage's µs, 2e6 / both stages' µs): a rate the machine's other load does not change.",
        )
    if increment is not None:
        print_table(
            "A small load into the loaded graph",
            ["step", "facts", "seconds", "facts/s", "loader CPU µs per fact", "PostgreSQL CPU µs per fact"],
            [increment],
            note="Another file (another seed) of --increment articles and ten claims each, loaded after the main load.",
        )
    floor_rate = _floor_table(floor, loader_us)
    rate_aim, ratio_aim = 15_000, 0.10
    ratio = load_rate / copy_rate
    print_table(
        "Aims (issue 25)",
        ["aim", "measured", "the schema's floor allows", "met"],
        [
            [
                f"≥ {rate_aim:,} facts/s",
                f"{load_rate:,.0f} facts/s",
                "—" if floor_rate is None else f"{floor_rate:,.0f} facts/s",
                "yes" if load_rate >= rate_aim else "no",
            ],
            [
                f"≥ {ratio_aim:.2f}x a raw COPY",
                f"{ratio:.3f}x",
                "—" if floor_rate is None or copy_ceiling is None else f"{floor_rate / copy_ceiling:.3f}x",
                "yes" if ratio >= ratio_aim else "no",
            ],
        ],
        note=(
            "Wall-clock figures on a shared machine; the CPU per fact above is what the machine's load does not change."
            " The floor's column: the rate the schema's own writes allow on two idle cores beside this loader's CPU,"
            " against the raw COPY's rate on two idle cores (both from CPU per fact, as above)."
        ),
    )
    ok = (
        not report["rejected"]
        and counts["facts"] == counts["history"] == counts["revisions"] == counts["events"] == loaded
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
