"""What the kept facet counts (db/migrations/0018_facet_rollup.sql) cost and leave behind, for
bench_analytics: the deltas a read adds up in the worst case (255 writing statements since the
last fold), PostgreSQL's time for the whole-table facets read from them (with those deltas, and
folded) and by the hand-written GROUPING SETS, and the facet trigger's own time (EXPLAIN ANALYZE)
in a write — single-row UPDATE statements (the API's writes; every 256th one folds) and one
INSERT … SELECT of 10,000 claims (a bulk load's batch, which folds) — in rolled-back transactions."""

from __future__ import annotations

from typing import Any

import orjson

from bench.analytics_floor import FACETS
from bench.common import median_ms
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


async def read_ms(database_url: str, facets: list[str], runs: int = 20) -> list[list[Any]]:
    """Rows of (statement, delta rows, ms): the planner's whole-table facets of ``facets`` for an
    anonymous caller as they are (deltas unfolded), then folded, and the hand-written GROUPING SETS."""
    t = fact_type("claim")
    request = aggregates.facets_request(t, [(f, f, None) for f in facets], ("facet",), exclude_own=False, labels=True)
    sql, args = aggregate_statement("claim", "facets", request, {}, Lens(None, public=True))
    conn = await connect(database_url)
    try:
        deltas = int(await conn.fetchval("SELECT count(*) FROM facet_count_deltas"))
        rows = [["kept counts, deltas unfolded", deltas, await median_ms(conn, sql, args, runs)]]
        await conn.execute("SELECT nf_fold_facet_counts()")
        await conn.execute("VACUUM ANALYZE facet_count_deltas, facet_counts")
        rows.append(["kept counts, folded", 0, await median_ms(conn, sql, args, runs)])
        rows.append(
            ["hand-written GROUPING SETS over claims", "", await median_ms(conn, FACETS, [], max(3, runs // 4))]
        )
        return rows
    finally:
        await conn.close()


async def _triggers(conn: Any, sql: str, args: list[Any]) -> tuple[float, float]:
    """(execution ms, facet trigger ms) of one statement, by EXPLAIN ANALYZE: the trigger's own
    time, not a difference of two timings that other processes on the machine blur."""
    found = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    # db.pool's connections may decode json already.
    plan = (orjson.loads(found) if isinstance(found, str | bytes) else found)[0]
    facets = sum(t["Time"] for t in plan.get("Triggers", []) if t["Trigger Name"].startswith("claims_facets_"))
    return float(plan["Execution Time"]), float(facets)


async def write_costs(database_url: str) -> list[list[Any]]:
    """Rows of (write, claims, statement ms, facet trigger ms, µs per claim, share of the rest):
    PostgreSQL's time in rolled-back transactions."""
    conn = await connect(database_url)
    try:
        columns = await conn.fetchval(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = 'claims'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''"
        )
        copied = columns.replace("id, ", "'clm_' || upper(substr(md5(id || 'copy'), 1, 26)), ", 1)
        bulk = f"INSERT INTO claims ({columns}) SELECT {copied} FROM claims ORDER BY id LIMIT {BULK}"
        single = (
            "UPDATE claims SET status = CASE status WHEN 'reported' THEN 'denied' ELSE 'reported' END,"
            " speaker_id = reported_by_id, reported_by_id = speaker_id WHERE id = $1"
        )
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM claims ORDER BY md5(id || 'w') LIMIT $1", SINGLE)]
        rows = []
        for name, n, statements in (
            (f"{SINGLE} single-claim UPDATE statements (one fold among them)", SINGLE, [(single, [i]) for i in ids]),
            (f"one INSERT … SELECT of {BULK:,} claims (a load batch; it folds)", BULK, [(bulk, [])]),
        ):
            tx = conn.transaction()
            await tx.start()
            try:
                await _triggers(conn, single, [ids[0]])  # the trigger function compiled, its plans kept
                rows.append(_row(name, n, [await _triggers(conn, sql, args) for sql, args in statements]))
            finally:
                await tx.rollback()
        return rows
    finally:
        await conn.close()


def _row(name: str, claims: int, timed: list[tuple[float, float]]) -> list[Any]:
    total = sum(t for t, _ in timed)
    facets = sum(f for _, f in timed)
    return [name, claims, total, facets, facets * 1000 / claims, facets / (total - facets)]


__all__ = ["leave_deltas", "read_ms", "write_costs"]
