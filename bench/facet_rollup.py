"""What the kept facet counts (db/migrations/0018_facet_rollup.sql) cost and leave behind, for
bench_analytics: the deltas a read adds up in the worst case (255 writing statements since the
last fold), PostgreSQL's time for the whole-table facets read from them (with those deltas, and
folded) and by the hand-written GROUPING SETS, and PostgreSQL's time per written claim with the facet triggers and without them — a
single-row UPDATE statement at a time (the API's writes; every 256th one folds), and one
INSERT … SELECT of 10,000 claims (a bulk load's batch, which folds). Each pair runs interleaved in a rolled-back
transaction, the facet triggers disabled for the "without" half."""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.analytics_floor import FACETS
from db import aggregates
from db.lens import Lens
from db.plan.sql import aggregate_statement
from db.pool import connect
from db.registry import fact_type

FOLD_EVERY = 256  # 0018's pacing: every 256th writing statement folds
SINGLE = 256
BULK = 10_000


async def leave_deltas(database_url: str) -> tuple[int, int]:
    """Fold, then write 255 single-claim statements (a status change each): the most deltas a read
    meets before the next writer folds. Returns the delta rows the load left, and those left now."""
    conn = await connect(database_url)
    try:
        after_load = int(await conn.fetchval("SELECT count(*) FROM facet_count_deltas"))
        await conn.execute("SELECT nf_fold_facet_counts()")
        last = await conn.fetchval("SELECT last_value FROM facet_count_statements")
        await conn.execute("SELECT setval('facet_count_statements', $1)", (last // FOLD_EVERY + 1) * FOLD_EVERY)
        ids = await conn.fetch("SELECT id FROM claims ORDER BY md5(id) LIMIT $1", FOLD_EVERY - 1)
        for row in ids:
            await conn.execute(
                "UPDATE claims SET status = CASE status WHEN 'disputed' THEN 'corroborated' ELSE 'disputed' END"
                " WHERE id = $1",
                row["id"],
            )
        await conn.execute("ANALYZE facet_count_deltas")
        return after_load, int(await conn.fetchval("SELECT count(*) FROM facet_count_deltas"))
    finally:
        await conn.close()


async def _median_ms(conn: Any, sql: str, args: list[Any], runs: int) -> float:
    await conn.fetchval(sql, *args)  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await conn.fetchval(sql, *args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def read_ms(database_url: str, facets: list[str], runs: int = 20) -> list[list[Any]]:
    """Rows of (statement, delta rows, ms): the planner's whole-table facets of ``facets`` for an
    anonymous caller as they are (deltas unfolded), then folded, and the hand-written GROUPING SETS."""
    t = fact_type("claim")
    request = aggregates.facets_request(t, [(f, f, None) for f in facets], ("facet",), exclude_own=False, labels=True)
    sql, args = aggregate_statement("claim", "facets", request, {}, Lens(None, public=True))
    conn = await connect(database_url)
    try:
        deltas = int(await conn.fetchval("SELECT count(*) FROM facet_count_deltas"))
        rows = [["kept counts, deltas unfolded", deltas, await _median_ms(conn, sql, args, runs)]]
        await conn.execute("SELECT nf_fold_facet_counts()")
        await conn.execute("VACUUM ANALYZE facet_count_deltas, facet_counts")
        rows.append(["kept counts, folded", 0, await _median_ms(conn, sql, args, runs)])
        rows.append(
            ["hand-written GROUPING SETS over claims", "", await _median_ms(conn, FACETS, [], max(3, runs // 4))]
        )
        return rows
    finally:
        await conn.close()


_SINGLES = f"""
DO $$
DECLARE ids text[] := ARRAY(SELECT id FROM claims ORDER BY md5(id || 'w') LIMIT {SINGLE});
BEGIN
    FOR i IN 1..{SINGLE} LOOP
        UPDATE claims SET status = CASE status WHEN 'reported' THEN 'denied' ELSE 'reported' END,
                          speaker_id = reported_by_id, reported_by_id = speaker_id
        WHERE id = ids[i];
    END LOOP;
END $$"""


async def _timed(conn: Any, sql: str, *, facets: bool, op: str) -> float:
    """Seconds ``sql`` takes in a rolled-back transaction, with or without the facet trigger of ``op``."""
    tx = conn.transaction()
    await tx.start()
    try:
        if not facets:
            await conn.execute(f"ALTER TABLE claims DISABLE TRIGGER claims_facets_{op}")
        started = time.perf_counter()
        await conn.execute(sql)
        return time.perf_counter() - started
    finally:
        await tx.rollback()


async def write_costs(database_url: str, runs: int = 5) -> list[list[Any]]:
    """Rows of (write, facts, ms without, ms with, µs added per fact, ratio): medians of ``runs``."""
    conn = await connect(database_url)
    try:
        columns = await conn.fetchval(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = 'claims'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''"
        )
        copied = columns.replace("id, ", "'clm_' || upper(substr(md5(id || 'copy'), 1, 26)), ", 1)
        bulk = f"INSERT INTO claims ({columns}) SELECT {copied} FROM claims ORDER BY id LIMIT {BULK}"
        rows = []
        for name, sql, op, n in (
            (f"single-claim UPDATE statements ({SINGLE}, one fold among them)", _SINGLES, "update", SINGLE),
            (f"one INSERT … SELECT of {BULK:,} claims (a load batch)", bulk, "insert", BULK),
        ):
            without, with_ = [], []
            for _ in range(runs):
                without.append(await _timed(conn, sql, facets=False, op=op))
                with_.append(await _timed(conn, sql, facets=True, op=op))
            a, b = statistics.median(without) * 1000, statistics.median(with_) * 1000
            rows.append([name, n, a, b, (b - a) * 1000 / n, b / a])
        return rows
    finally:
        await conn.close()


__all__ = ["leave_deltas", "read_ms", "write_costs"]
