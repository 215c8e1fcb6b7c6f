"""The outbox: change events appended in the writer's transaction, and read back in sequence order.

``append`` must be the last statement of a writing transaction: it takes the event_counter row
lock, which serialises commits so that sequence order is commit order (see 0001_core.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.ids import new_id
from db.pool import Conn

NOTIFY_CHANNEL = "newsfacts_events"  # also spelled out in _APPEND


@dataclass(frozen=True)
class PendingEvent:
    """An event to append: its type and the fact revision whose snapshot it carries."""

    type: str
    fact_id: str
    version: int


_APPEND = """
WITH seq AS (
    UPDATE event_counter SET last = last + cardinality($1::text[]) RETURNING last - cardinality($1::text[]) AS base
), ins AS (
    INSERT INTO events (sequence, id, type, object_type, object_id, object_version, data, created_at)
    SELECT seq.base + p.ord, p.event_id, p.type, r.fact_type, p.fact_id, p.version, r.snapshot, r.changed_at
    FROM seq,
         unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS p(event_id, type, fact_id, version, ord)
         JOIN revisions r ON r.fact_id = p.fact_id AND r.version = p.version
    RETURNING sequence
)
SELECT max(sequence) AS last, count(*) AS n, pg_notify('newsfacts_events', max(sequence)::text) FROM ins
"""


async def append(conn: Conn, pending: Sequence[PendingEvent]) -> int:
    """Append events for committed-with-this-transaction revisions; returns the last sequence."""
    if not pending:
        return 0
    row = await conn.fetchrow(
        _APPEND,
        [new_id("event") for _ in pending],
        [p.type for p in pending],
        [p.fact_id for p in pending],
        [p.version for p in pending],
    )
    assert row is not None and row["n"] == len(pending), "every event must find its revision"
    return int(row["last"])


def event_doc(row: asyncpg.Record) -> dict[str, Any]:
    """The public shape of an event (REST /v1/events, subscriptions, webhooks)."""
    return {
        "id": row["id"],
        "object": "event",
        "sequence": row["sequence"],
        "type": row["type"],
        "objectType": row["object_type"],
        "objectId": row["object_id"],
        "objectVersion": row["object_version"],
        "createdAt": row["created_at"].isoformat(),
        "data": row["data"],
    }


async def list_after(
    conn: Conn,
    after: int,
    *,
    limit: int = 100,
    types: Sequence[str] | None = None,
    object_id: str | None = None,
) -> list[dict[str, Any]]:
    """Events with sequence > ``after`` in sequence order, optionally filtered by type and object."""
    rows = await conn.fetch(
        """SELECT * FROM events
           WHERE sequence > $1
             AND ($2::text[] IS NULL OR type = ANY($2::text[]))
             AND ($3::text IS NULL OR object_id = $3::text)
           ORDER BY sequence LIMIT $4""",
        after,
        list(types) if types else None,
        object_id,
        limit,
    )
    return [event_doc(r) for r in rows]


async def last_sequence(conn: Conn) -> int:
    value = await conn.fetchval("SELECT last FROM event_counter")
    return int(value or 0)
