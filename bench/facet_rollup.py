"""What the kept facet counts (db/migrations/0018_facet_rollup.sql) and kept sums (0020) cost and
leave behind, for bench_analytics: the deltas a read adds up in the worst case (255 writing
statements since the last fold), PostgreSQL's time for the whole-table facets and the bench's
bounded sum read from them (with those deltas, and folded) and by the hand-written statements, and
the triggers' own time (EXPLAIN ANALYZE) in a write — single-row UPDATE statements (the API's
writes; every 256th one folds) and one INSERT … SELECT of 10,000 claims or incidents (a bulk load's
batch, which folds) — in rolled-back transactions."""

from __future__ import annotations

from typing import Any

import orjson

from bench.analytics_floor import FACETS, SUMS
from bench.common import median_ms
from db import aggregates
from db.ids import PREFIXES
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


# A single-incident write that changes what the bench's sum adds: its fatalities, exact 1 ↔ 2.
_FATALITIES = (
    "UPDATE incidents SET fatalities = jsonb_build_object('approximation', 'exact', 'unit', 'people', 'amount',"
    " CASE WHEN fatalities ->> 'amount' = '1' THEN 2 ELSE 1 END) WHERE id = $1"
)


async def sums_read_ms(database_url: str, runs: int = 20) -> list[list[Any]]:
    """Rows of (statement, delta rows, ms): the planner's whole-table sum of fatalities by incident
    type for an anonymous caller with the sum deltas of 255 single-incident writes unfolded (the
    most a read meets), then folded, and the hand-written statement (bench/analytics_floor.py SUMS)."""
    t = fact_type("incident")
    paths = {"sum": ("sum",), "groupBy": ("groupBy",)}
    request = aggregates.sums_request(t, [("fatalities", "fatalities")], "incidentType", paths, flat=False)
    sql, args = aggregate_statement("incident", "sums", request, {}, Lens(None, public=True))
    conn = await connect(database_url)
    try:
        await conn.execute("SELECT nf_fold_facet_counts()")
        last = await conn.fetchval("SELECT last_value FROM facet_count_statements")
        await conn.execute("SELECT setval('facet_count_statements', $1)", (last // FOLD_EVERY + 1) * FOLD_EVERY)
        ids = await conn.fetch("SELECT id FROM incidents ORDER BY md5(id) LIMIT $1", FOLD_EVERY - 1)
        for row in ids:
            await conn.execute(_FATALITIES, row["id"])
        await conn.execute("ANALYZE sum_count_deltas")
        deltas = int(await conn.fetchval("SELECT count(*) FROM sum_count_deltas"))
        rows = [["kept sums, deltas unfolded", deltas, await median_ms(conn, sql, args, runs)]]
        await conn.execute("SELECT nf_fold_facet_counts()")
        await conn.execute("VACUUM ANALYZE sum_count_deltas, sum_counts")
        rows.append(["kept sums, folded", 0, await median_ms(conn, sql, args, runs)])
        rows.append(["hand-written statement over incidents", "", await median_ms(conn, SUMS, [], max(3, runs // 4))])
        return rows
    finally:
        await conn.close()


async def _triggers(conn: Any, sql: str, args: list[Any], prefix: str) -> tuple[float, float]:
    """(execution ms, the ``prefix`` triggers' ms) of one statement, by EXPLAIN ANALYZE: the
    triggers' own time, not a difference of two timings that other processes on the machine blur."""
    found = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    # db.pool's connections may decode json already.
    plan = (orjson.loads(found) if isinstance(found, str | bytes) else found)[0]
    own = sum(t["Time"] for t in plan.get("Triggers", []) if t["Trigger Name"].startswith(prefix))
    return float(plan["Execution Time"]), float(own)


async def _copy_of(conn: Any, table: str, prefix: str) -> str:
    """An INSERT … SELECT of the first BULK rows of ``table`` under new ids (a load batch)."""
    columns = await conn.fetchval(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
        " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
        table,
    )
    copied = columns.replace("id, ", f"'{prefix}' || upper(substr(md5(id || 'copy'), 1, 26)), ", 1)
    return f"INSERT INTO {table} ({columns}) SELECT {copied} FROM {table} ORDER BY id LIMIT {BULK}"


async def write_costs(database_url: str) -> list[list[Any]]:
    """Rows of (write, facts, trigger, statement ms, trigger ms, µs per fact, share of the rest):
    PostgreSQL's time in rolled-back transactions, of the claims' facet triggers and the
    incidents' sum triggers."""
    conn = await connect(database_url)
    try:
        claim_bulk = await _copy_of(conn, "claims", f"{PREFIXES['claim']}_")
        incident_bulk = await _copy_of(conn, "incidents", f"{PREFIXES['incident']}_")
        claim_single = (
            "UPDATE claims SET status = CASE status WHEN 'reported' THEN 'denied' ELSE 'reported' END,"
            " speaker_id = reported_by_id, reported_by_id = speaker_id WHERE id = $1"
        )
        claims = [r["id"] for r in await conn.fetch("SELECT id FROM claims ORDER BY md5(id || 'w') LIMIT $1", SINGLE)]
        incidents = [
            r["id"] for r in await conn.fetch("SELECT id FROM incidents ORDER BY md5(id || 'w') LIMIT $1", SINGLE)
        ]
        warm = {"claims_facets_": (claim_single, [claims[0]]), "incidents_sums_": (_FATALITIES, [incidents[0]])}
        rows = []
        for name, n, prefix, statements in (
            (
                f"{SINGLE} single-claim UPDATE statements (one fold among them)", SINGLE, "claims_facets_",
                [(claim_single, [i]) for i in claims],
            ),
            (f"one INSERT … SELECT of {BULK:,} claims (a load batch; it folds)", BULK, "claims_facets_",
             [(claim_bulk, [])]),
            (
                f"{SINGLE} single-incident UPDATE statements of fatalities", SINGLE, "incidents_sums_",
                [(_FATALITIES, [i]) for i in incidents],
            ),
            (f"one INSERT … SELECT of {BULK:,} incidents (a load batch)", BULK, "incidents_sums_",
             [(incident_bulk, [])]),
        ):  # fmt: skip
            tx = conn.transaction()
            await tx.start()
            try:
                # The trigger functions compiled, their plans kept: a single-row write of the same table.
                await _triggers(conn, *warm[prefix], prefix)
                timed = [await _triggers(conn, sql, args, prefix) for sql, args in statements]
                rows.append(_row(name, n, prefix.rstrip("_") + "_*", timed))
            finally:
                await tx.rollback()
        return rows
    finally:
        await conn.close()


def _row(name: str, facts: int, trigger: str, timed: list[tuple[float, float]]) -> list[Any]:
    total = sum(t for t, _ in timed)
    own = sum(f for _, f in timed)
    return [name, facts, trigger, total, own, own * 1000 / facts, own / (total - own)]


__all__ = ["leave_deltas", "read_ms", "sums_read_ms", "write_costs"]
