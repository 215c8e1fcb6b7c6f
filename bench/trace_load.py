"""Where a load's wall time goes, from the backend's side: for each kind of statement the loader
sends, how long it was in flight and how much of that the backend spent on a CPU, waiting for one
(the run queue: other processes on the machine) or neither (blocked: on the loader, or on I/O),
from /proc/<backend>/schedstat around each call. The time between statements is the backend idle
while the loader runs Python. In-process on a fresh embedded PostgreSQL; Linux only.

``--prepared-first``: then the same file again into a second fresh database, every batch's
static checks and encoded rows prepared before the load starts, and its lines decoded: the
writes never wait for the loader's preparation, as with a second loader process perfectly
overlapped. What the backend still waits for is the writer's own Python between statements.

    .venv/bin/python -m bench.trace_load --articles 5000 --claims 50000
    .venv/bin/python -m bench.trace_load --articles 5000 --claims 50000 --prepared-first
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from bench.bench_load import generate, prepare
from bench.common import embedded_postgres, print_table, temp_dir
from db import bulk
from db.load import batch
from db.pool import connect

CALLS = ("execute", "fetch", "fetchval", "fetchrow", "copy_records_to_table", "copy_to_table")


class Trace:
    def __init__(self, backend: int) -> None:
        self.backend = backend
        self.calls: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])  # n, wall, cpu, run queue

    def sched(self) -> tuple[float, float]:
        """The backend's seconds on a CPU and in the run queue so far."""
        cpu, queued, _ = Path(f"/proc/{self.backend}/schedstat").read_text().split()
        return int(cpu) / 1e9, int(queued) / 1e9

    def wrap(self, name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(call)
        async def traced(conn: Any, *args: Any, **kwargs: Any) -> Any:
            started, (cpu, queued) = time.perf_counter(), self.sched()
            try:
                return await call(conn, *args, **kwargs)
            finally:
                cpu2, queued2 = self.sched()
                what = " ".join(str(args[0]).split()[:3])[:40] if args else ""
                c = self.calls[f"{name}: {what}"]
                c[0] += 1
                c[1] += time.perf_counter() - started
                c[2] += cpu2 - cpu
                c[3] += queued2 - queued

        return traced


async def prepared_first(
    conn: Any, path: Path, batch_size: int, indexes: str
) -> Callable[[], Awaitable[bulk.LoadReport]]:
    """The file's items decoded, and every batch's ``Prepared`` made by a dry pass of the loader
    whose writes do nothing; returns the load, which finds each batch prepared (by its records).
    It sets the indexes aside unless ``indexes`` is "keep" (the generated corpus is an initial
    load, which "auto" rebuilds), and mints no ids: every generated record has its own."""
    with path.open("rb") as stream:
        items = list(bulk.read_records(stream))
    made: dict[tuple[int, int, int], batch.Prepared] = {}
    # The classmethod itself, to be put back: Prepared.of would be the bound method.
    of, write = batch.Prepared.__dict__["of"], batch.write

    def keyed(records: list[Any]) -> tuple[int, int, int]:
        return id(records[0]), id(records[-1]), len(records)

    def remember(staged: Any, records: list[Any], mint: Any) -> batch.Prepared:
        found: batch.Prepared = of.__func__(batch.Prepared, staged, records, mint)
        made[keyed(records)] = found
        return found

    async def nothing(*args: Any, **kwargs: Any) -> batch.Written:
        return batch.Written()

    setattr(batch.Prepared, "of", remember)  # noqa: B010 - a benchmark's patch, put back below
    setattr(batch, "write", nothing)  # noqa: B010
    try:
        await bulk.load(conn, items, changed_by="trace", batch_size=batch_size)
    finally:
        setattr(batch.Prepared, "of", of)  # noqa: B010
        setattr(batch, "write", write)  # noqa: B010

    async def load() -> bulk.LoadReport:
        setattr(batch.Prepared, "of", lambda staged, records, mint: made[keyed(records)])  # noqa: B010
        try:
            return await bulk.load(
                conn, items, changed_by="trace", batch_size=batch_size, rebuild_indexes=indexes != "keep"
            )
        finally:
            setattr(batch.Prepared, "of", of)  # noqa: B010

    return load


async def run(url: str, path: Path, batch_size: int, indexes: str, *, first: bool = False) -> None:
    conn = await connect(url)
    trace = Trace(await conn.fetchval("SELECT pg_backend_pid()"))
    if first:
        load = await prepared_first(conn, path, batch_size, indexes)
    else:
        load = functools.partial(bulk.load_file, conn, path, changed_by="trace", batch_size=batch_size, indexes=indexes)
    cls = type(conn)
    originals = {name: getattr(cls, name) for name in CALLS}
    for name, call in originals.items():
        setattr(cls, name, trace.wrap(name, call))
    me = psutil.Process()
    try:
        (cpu0, queued0), loader0, started = trace.sched(), me.cpu_times(), time.perf_counter()
        report = await load()
        wall, (cpu1, queued1), loader1 = time.perf_counter() - started, trace.sched(), me.cpu_times()
    finally:
        for name, call in originals.items():
            setattr(cls, name, call)
        await conn.close()
    n = report.total_loaded
    cpu, queued = cpu1 - cpu0, queued1 - queued0
    loader = loader1.user + loader1.system - loader0.user - loader0.system
    in_flight = sum(c[1] for c in trace.calls.values())
    print_table(
        f"{'Prepared first: ' if first else ''}{n:,} facts ({len(report.rejected)} rejected) in {wall:.2f} s: "
        f"{n / wall:,.0f} facts/s",
        ["", "µs per fact", "share of wall"],
        [
            ["wall", wall * 1e6 / n, "100%"],
            ["backend on a CPU", cpu * 1e6 / n, f"{cpu / wall:.0%}"],
            ["backend in the run queue", queued * 1e6 / n, f"{queued / wall:.0%}"],
            ["backend blocked or idle", (wall - cpu - queued) * 1e6 / n, f"{(wall - cpu - queued) / wall:.0%}"],
            ["no statement in flight", (wall - in_flight) * 1e6 / n, f"{(wall - in_flight) / wall:.0%}"],
            ["loader process CPU", loader * 1e6 / n, f"{loader / wall:.0%}"],
        ],
    )
    rows = [
        [k, int(c[0]), c[1] * 1e6 / n, c[2] * 1e6 / n, c[3] * 1e6 / n, (c[1] - c[2] - c[3]) * 1e6 / n]
        for k, c in sorted(trace.calls.items(), key=lambda kv: -kv[1][1])[:12]
    ]
    print_table(
        "Statements (µs per fact)", ["statement", "calls", "in flight", "on a CPU", "run queue", "blocked"], rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--indexes", default="rebuild", choices=["auto", "rebuild", "keep"])
    parser.add_argument(
        "--prepared-first",
        action="store_true",
        help="then the same file into a second database, every batch prepared before the load",
    )
    args = parser.parse_args(argv)
    with temp_dir() as folder:
        corpus = folder / "corpus.ndjson"
        generate(corpus, args.articles, args.claims)
        with embedded_postgres(folder) as url:
            for first in [False, True] if args.prepared_first else [False]:
                # Each load into a database of its own, dropped after it with a checkpoint, so the
                # second does not evict the first one's pages from shared buffers as it writes.
                database = asyncio.run(fresh_database(url, "trace_prepared" if first else "trace"))
                asyncio.run(prepare(database))
                asyncio.run(run(database, corpus, args.batch_size, args.indexes, first=first))
                asyncio.run(drop_database(url, "trace_prepared" if first else "trace"))
    return 0


async def fresh_database(url: str, name: str) -> str:
    """A new empty database on the server at ``url``; returns its URL."""
    conn = await connect(url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def drop_database(url: str, name: str) -> None:
    conn = await connect(url)
    try:
        await conn.execute(f"DROP DATABASE {name}")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
