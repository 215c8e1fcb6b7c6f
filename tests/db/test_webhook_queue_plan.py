"""The webhook queue in a burst: a fan-out that grows the queue analyzes it at once, and a claim is
planned as a walk of the due index whatever the endpoint table's statistics say (a join to it once
made PostgreSQL walk every pending row of every endpoint for each claim) and however churned the
queue is (a backlog out of due order in a bloated table once made it sort every due row)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from db import webhooks, writes
from db.pool import Conn
from db.webhooks import deliveries

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + "A" * 43 + "="
ENDPOINTS = 25
EVENTS = 50  # 1,250 deliveries: past ANALYZE_AFTER


async def _burst(conn: Conn) -> None:
    for i in range(ENDPOINTS):
        await webhooks.create_endpoint(
            conn, None, url=f"https://example.com/hook/{i}", description=None, enabled_events=["*"],
            secret=SECRET, created_by="test",
        )  # fmt: skip
    await writes.create_many(
        conn, "actor", [{"kind": "person", "name": f"Burst {i}"} for i in range(EVENTS)], changed_by="test"
    )
    while await webhooks.dispatch(conn):
        pass


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


async def test_a_burst_is_analyzed_and_claims_walk_the_due_index(migrated_conn: Conn) -> None:
    assert (
        await migrated_conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass") <= 0
    )
    await _burst(migrated_conn)
    pending = await migrated_conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
    assert pending == ENDPOINTS * EVENTS >= deliveries.ANALYZE_AFTER
    # The fan-out analyzed the queue: its statistics count the burst.
    assert await migrated_conn.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass"
    ) == pytest.approx(pending, rel=0.1)
    # The endpoint table was never analyzed (the planner thinks it tiny); the claim still reads the
    # queue through the due index, not through the endpoints and their object index.
    assert await migrated_conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'webhook_endpoints'::regclass") <= 0
    async with migrated_conn.transaction():
        raw = await migrated_conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + deliveries._CLAIM, 256, [], {}, 4, 64, 10.0, "test-worker"
        )
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = [
        (n["Node Type"], n.get("Index Name")) for n in _nodes(plan) if n.get("Relation Name") == "webhook_deliveries"
    ]
    assert ("Index Scan", "webhook_deliveries_due_idx") in scans, scans
    assert all(index != "webhook_deliveries_object_idx" or kind == "Index Only Scan" for kind, index in scans), scans


async def _claim_plans(conn: Conn) -> list[dict[str, Any]]:
    """The claim's plan as a worker gets it: with its parameters, and as the generic plan that a
    prepared statement (asyncpg's) may switch to after five runs."""
    args = (256, [], {}, 4, 64, 10.0, "test-worker")
    async with conn.transaction():
        custom = await conn.fetchval("EXPLAIN (FORMAT JSON) " + deliveries._CLAIM, *args)
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute("PREPARE claim_plan_test AS " + deliveries._CLAIM)
        try:
            generic = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) EXECUTE claim_plan_test(256, '{}', '{}', 4, 64, 10.0, 'test-worker')"
            )
        finally:
            await conn.execute("DEALLOCATE claim_plan_test")
    return [(json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"] for raw in (custom, generic)]


async def test_a_backlog_out_of_due_order_in_a_bloated_queue_is_still_claimed_through_the_due_index(
    migrated_conn: Conn,
) -> None:
    # A drained queue whose rows were deleted (the dead versions of two updates each still on disk),
    # then a backlog of 15,000 laid down out of due order, as rows land in the free space of a
    # churned table. The claim's filters were once estimated to pass one row in all 15,000: the
    # LIMIT then saved nothing, and a sequential scan plus sort of every due row won the cost race.
    endpoints = [
        str((await webhooks.create_endpoint(
            migrated_conn, None, url=f"https://example.com/hook/{i}", description=None, enabled_events=["*"],
            secret=SECRET, created_by="test",
        ))["id"])
        for i in range(50)
    ]  # fmt: skip
    fill = """INSERT INTO webhook_deliveries (id, endpoint_id, event_id, sequence, object_id, type, next_attempt_at)
              SELECT newsfacts_new_id('whd'), e.id, 'evt_' || s, s, 'act_' || s, 'actor.created',
                     now() + make_interval(secs => (row_number() OVER (ORDER BY s, e.id)) / 1e6)
              FROM generate_series($1::bigint, $1::bigint + 299) s CROSS JOIN unnest($2::text[]) e(id)"""
    await migrated_conn.execute(fill, 1, endpoints)
    await migrated_conn.execute("UPDATE webhook_deliveries SET locked_until = now(), locked_by = 'w'")
    await migrated_conn.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', locked_until = NULL, locked_by = NULL"
    )
    await migrated_conn.execute("DELETE FROM webhook_deliveries")
    await migrated_conn.execute(fill + " ORDER BY random()", 301, endpoints)
    await migrated_conn.execute("ANALYZE webhook_deliveries")
    correlation = await migrated_conn.fetchval(
        "SELECT correlation FROM pg_stats WHERE tablename = 'webhook_deliveries' AND attname = 'next_attempt_at'"
    )
    assert abs(correlation) < 0.2, "the backlog lies out of due order"

    for plan in await _claim_plans(migrated_conn):
        scans = [
            (n["Node Type"], n.get("Index Name"))
            for n in _nodes(plan)
            if n.get("Relation Name") == "webhook_deliveries"
        ]
        assert ("Index Scan", "webhook_deliveries_due_idx") in scans, scans
        assert all(kind not in ("Seq Scan", "Bitmap Heap Scan") for kind, _ in scans), scans
