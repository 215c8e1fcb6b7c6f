"""Keyset pagination benchmark: pages of 20 claims through db.queries.list_page (documents built by
PostgreSQL, as the API serves them), filtered by speaker and by a date range, at a shallow and a
deep position, with p50/p99 latency and the EXPLAIN (ANALYZE, BUFFERS) plan of the deep page.
Baseline in the same run: a primary-key lookup of one claim (db.queries.get).

    .venv/bin/python -m bench.bench_keyset                          # loads 2,000 / 50,000 itself
    .venv/bin/python -m bench.bench_keyset --database-url URL       # an already loaded corpus
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.common import embedded_postgres, print_table, summarise_ms, temp_dir
from db import bulk, generate, pagination, queries
from db.lens import FULL
from db.migrate import migrate
from db.pool import Conn, connect
from db.registry import fact_type

DATE_FROM, DATE_TO = "2025-03-01", "2025-08-31"
ORDER_KEYS = {"claimDate": "coalesce(c.claim_date, '0001-01-01'::date)", "createdAt": "c.id"}


class _Recorder:
    """Stands in for a connection to capture the SQL list_page sends, then runs it for real."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.sql = ""
        self.args: tuple[Any, ...] = ()

    async def fetch(self, sql: str, *args: Any) -> Any:
        self.sql, self.args = sql, args
        return await self.conn.fetch(sql, *args)


async def _load(conn: Conn, articles: int, claims: int) -> float:
    items = ((i, r.pop("object"), r) for i, r in enumerate(generate.records(articles, claims, seed=7)))
    started = time.perf_counter()
    report = await bulk.load(conn, items, changed_by="bench", batch_size=2_000)
    if report.rejected:
        raise SystemExit(f"corpus load rejected {len(report.rejected)} records")
    await conn.execute("ANALYZE")
    return time.perf_counter() - started


async def _deep_cursor(conn: Conn, where: str, arg: Any, order: str, depth: float) -> tuple[str | None, int]:
    key = ORDER_KEYS[order]
    total = await conn.fetchval(f"SELECT count(*) FROM claims c WHERE {where}", *arg)
    offset = int(total * depth)
    if offset == 0:
        return None, total
    row = await conn.fetchrow(
        f"SELECT ({key})::text AS k, c.id FROM claims c WHERE {where} ORDER BY {key}, c.id OFFSET $"
        f"{len(arg) + 1} LIMIT 1",
        *arg,
        offset,
    )
    assert row is not None
    return pagination.encode(pagination.Cursor(order, row["k"], row["id"])), total


async def _time(fn: Callable[[], Awaitable[Any]], iterations: int) -> list[float]:
    for _ in range(min(20, iterations)):  # warm caches and the statement cache
        await fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


async def run(database_url: str, args: argparse.Namespace) -> None:
    conn = await connect(database_url)
    try:
        await migrate(conn)
        claims = await conn.fetchval("SELECT count(*) FROM claims")
        if claims < args.claims // 2:
            seconds = await _load(conn, args.articles, args.claims)
            claims = await conn.fetchval("SELECT count(*) FROM claims")
            print(f"loaded {claims:,} claims in {seconds:.1f}s", file=sys.stderr)
        speaker = await conn.fetchval(
            "SELECT speaker_id FROM claims WHERE speaker_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        some_id = await conn.fetchval("SELECT id FROM claims ORDER BY id OFFSET $1 LIMIT 1", claims // 2)
        t = fact_type("claim")
        cases = [
            ("speaker, by claimDate", {"speaker": speaker}, "c.speaker_id = $1", (speaker,), "claimDate"),
            ("speaker, by createdAt", {"speaker": speaker}, "c.speaker_id = $1", (speaker,), "createdAt"),
            (
                f"claimDate {DATE_FROM}..{DATE_TO}, by claimDate",
                {"claimDateFrom": DATE_FROM, "claimDateTo": DATE_TO},
                "c.claim_date BETWEEN $1::text::date AND $2::text::date",
                (DATE_FROM, DATE_TO),
                "claimDate",
            ),
        ]
        rows: list[list[Any]] = []
        baseline = summarise_ms(await _time(lambda: queries.get(conn, "claim", some_id, lens=FULL), args.iterations))
        rows.append(["primary-key lookup (baseline)", "—", 1, baseline["p50"], baseline["p99"], "1.00x"])
        plans: list[tuple[str, str]] = []
        for label, raw_filters, where, where_args, order in cases:
            filters = queries.parse_filters(t, raw_filters)
            for depth_name, depth in (("first page", 0.0), ("deep (90%)", 0.9)):
                cursor, total = await _deep_cursor(conn, where, where_args, order, depth)
                page = queries.PageRequest(limit=20, cursor=cursor, order=order)
                recorder = _Recorder(conn)
                got = await queries.list_page(recorder, "claim", filters, page, lens=FULL)  # type: ignore[arg-type]

                async def fetch_page(f: dict[str, Any] = filters, p: queries.PageRequest = page) -> queries.Page:
                    return await queries.list_page(conn, "claim", f, p, lens=FULL)

                stats = summarise_ms(await _time(fetch_page, args.iterations))
                rows.append(
                    [f"{label}: {depth_name}", total, len(got.docs), stats["p50"], stats["p99"],
                     f"{stats['p99'] / baseline['p99']:.2f}x"]
                )  # fmt: skip
                if depth:
                    explained = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + recorder.sql, *recorder.args)
                    plans.append((f"{label}: {depth_name}", "\n".join(r[0] for r in explained)))
        print_table(
            f"Keyset pages of 20 claims ({claims:,} claims, {args.iterations} timed requests each)",
            ["query", "matching rows", "rows returned", "p50 ms", "p99 ms", "p99 vs PK lookup"],
            rows,
            note="Timed in-process through db.queries.list_page on one connection (documents included, no HTTP).",
        )
        for label, plan in plans:
            print(f"EXPLAIN (ANALYZE, BUFFERS) — {label}\n\n```\n{plan}\n```\n")
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--database-url", help="a database to use (loaded with the corpus when it has few claims)")
    args = parser.parse_args(argv)
    if args.database_url:
        asyncio.run(run(args.database_url, args))
        return 0
    with temp_dir() as folder, embedded_postgres(folder) as url:
        asyncio.run(run(url, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
