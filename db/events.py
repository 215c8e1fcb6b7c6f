"""The outbox: change events appended in the writer's transaction, and read back in sequence order.

``append`` must be the last statement of a writing transaction: it takes the event_counter row
lock, which serialises commits so that sequence order is commit order (see 0001_core.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.ids import new_id

# Re-exported: readers of the outbox import the event types from here.
from db.kinds import CHANGE_KINDS as CHANGE_KINDS
from db.kinds import EVENT_TYPES as EVENT_TYPES
from db.kinds import LOAD_ORDER
from db.kinds import change_kinds as change_kinds
from db.pool import Conn

NOTIFY_CHANNEL = "newsfacts_events"  # also spelled out in _APPEND
EVENT_KINDS = LOAD_ORDER  # every fact kind emits events; re-exported with the registry's types


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


async def oldest_sequence(conn: Conn) -> int | None:
    """The lowest retained sequence (None when no event is retained)."""
    value = await conn.fetchval("SELECT min(sequence) FROM events")
    return None if value is None else int(value)


async def prune(conn: Conn, *, retention_days: int, keep_after: int, statement_seconds: float | None = None) -> int:
    """Delete events older than the retention period, never one above ``keep_after`` (the relay's
    published sequence: an unpublished event is kept whatever its age). Returns how many went."""
    status = await conn.execute(
        "DELETE FROM events WHERE created_at < now() - make_interval(days => $1) AND sequence <= $2",
        retention_days,
        keep_after,
        timeout=statement_seconds,
    )
    return int(status.split()[-1])


async def published_sequence(conn: Conn) -> int:
    """How far the relay has published the outbox (see relay_state in 0002_events.sql)."""
    value = await conn.fetchval("SELECT published_sequence FROM relay_state")
    return int(value or 0)


async def record_published(conn: Conn, sequence: int) -> None:
    await conn.execute(
        "UPDATE relay_state SET published_sequence = greatest(published_sequence, $1), published_at = now()",
        sequence,
    )


async def record_leader(conn: Conn, leader: str) -> None:
    await conn.execute("UPDATE relay_state SET leader = $1, leader_since = now()", leader)


async def stream_key(conn: Conn) -> str:
    """The name of this database's Redis Stream (see relay_state.stream)."""
    value = await conn.fetchval("SELECT stream FROM relay_state")
    return str(value)
