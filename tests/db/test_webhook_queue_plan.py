"""The webhook queue in a burst: a fan-out that grows the queue analyzes it at once, and a claim is
planned as a walk of the due index whatever the endpoint table's statistics say (a join to it once
made PostgreSQL walk every pending row of every endpoint for each claim)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from db import webhooks, writes
from db.migrate import migrate
from db.pool import Conn, connect
from db.webhooks import deliveries

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + "A" * 43 + "="
ENDPOINTS = 25
EVENTS = 50  # 1,250 deliveries: past ANALYZE_AFTER


@pytest.fixture
async def conn(empty_database: str) -> AsyncIterator[Conn]:
    connection = await connect(empty_database)
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()


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


async def test_a_burst_is_analyzed_and_claims_walk_the_due_index(conn: Conn) -> None:
    assert await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass") <= 0
    await _burst(conn)
    pending = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
    assert pending == ENDPOINTS * EVENTS >= deliveries.ANALYZE_AFTER
    # The fan-out analyzed the queue: its statistics count the burst.
    assert await conn.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass"
    ) == pytest.approx(pending, rel=0.1)
    # The endpoint table was never analyzed (the planner thinks it tiny); the claim still reads the
    # queue through the due index, not through the endpoints and their object index.
    assert await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'webhook_endpoints'::regclass") <= 0
    async with conn.transaction():
        raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + deliveries._CLAIM, 256, [], {}, 4, 64, 10.0, "test-worker")
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = [
        (n["Node Type"], n.get("Index Name")) for n in _nodes(plan) if n.get("Relation Name") == "webhook_deliveries"
    ]
    assert ("Index Scan", "webhook_deliveries_due_idx") in scans, scans
    assert all(index != "webhook_deliveries_object_idx" or kind == "Index Only Scan" for kind, index in scans), scans
